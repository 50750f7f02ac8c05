/** The 16 non-linear levels shared by IQ4_NL and IQ4_XS (ggml's `kvalues_iq4nl`). */
export const IQ4_VALUES: Int8Array = Int8Array.of(
  -127,
  -104,
  -83,
  -65,
  -49,
  -35,
  -22,
  -10,
  1,
  13,
  25,
  38,
  53,
  69,
  89,
  113,
);
