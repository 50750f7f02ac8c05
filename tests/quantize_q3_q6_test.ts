import assert from "node:assert/strict";
import { test } from "node:test";
import { nearestInt } from "../src/convert/quant/_q3_q6_search.ts";
import { quantizeRowQ3K } from "../src/convert/quant/q3_k.ts";
import { quantizeRowQ6K } from "../src/convert/quant/q6_k.ts";
import { quantize } from "../src/convert/quantize.ts";

/**
 * Edge super-blocks of 256 values. The expected blocks below are what ggml's
 * `quantize_row_q3_K_ref` and `quantize_row_q6_K_ref` write for them (ggml-quants.c built
 * with gcc -O2 on x86-64, no importance matrix), as hex.
 */
function edgeBlocks(): [string, Float32Array][] {
  const ramp = (i: number) => ((i * 37) % 29) / 29 - 0.5; // spread values in [−0.5, 0.5)
  const block = (f: (i: number) => number) => new Float32Array(256).map((_, i) => f(i));
  return [
    ["all zero", block(() => 0)],
    ["one outlier", block((i) => (i === 77 ? 40 : ramp(i)))],
    ["all negative", block((i) => -0.25 - ((i * 13) % 31) / 31)],
    ["tiny: the half scale flushes to zero", block((i) => ramp(i) * 1e-12)],
    ["small: a subnormal half scale", block((i) => ramp(i) * 2e-4)],
    ["first group all zero", block((i) => (i < 16 ? 0 : ramp(i)))],
    [
      "one group far below the others",
      block((i) => (i >= 32 && i < 48 ? ramp(i) * 1e-4 : ramp(i))),
    ],
    ["+Inf in one group", block((i) => (i === 50 ? Infinity : ramp(i)))],
    ["NaN in one group", block((i) => (i === 90 ? NaN : ramp(i)))],
    [
      "-Inf and NaN in one group, NaN alone in another",
      block((i) => (i === 3 ? -Infinity : i === 9 || i === 200 ? NaN : ramp(i))),
    ],
    ["huge: x³ overflows float32", block((i) => ramp(i) * 1e14)],
    [
      "every group non-finite",
      block((i) => (i % 16 === 5 ? Infinity : i % 16 === 6 ? NaN : ramp(i))),
    ],
  ];
}

/** ggml's Q3_K blocks for {@link edgeBlocks}, in order. */
const Q3_K_EXPECTED: [string, string[]][] = [
  [
    "all zero",
    [
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "000000000000000000000000000000000000000000000000000000000000",
    ],
  ],
  [
    "one outlier",
    [
      "de0c65f79e2ce7d71c6df79e2c61d79e38e3cf1c71e78e3873c79c39e3ce1c7108864cc74d8b81cb",
      "46cc860c864dc74ddb711bb61c862dc761cb72d8b21cb62cb66fc56fd97218b62c852fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb0000000000000000a2aaaaaa0035",
    ],
  ],
  [
    "all negative",
    [
      "00000000000000000000000000000000000000000000000000000000000000008b62d8761d872188",
      "62d8b61d8761d8761d87218862d8761d8761c876ddb72d8b1d87218866ddb71d8b62d8761d872188",
      "62d8761d8761c872d8b72d8b62d8761d022102312222111100000000c8a0",
    ],
  ],
  [
    "tiny: the half scale flushes to zero",
    [
      "de0c61f79e28e3d71c69f39e2c61d79e38e3cf1c71e78e3873c79c39e3ce1c711cb61c876dc761db",
      "b2d8b62cf62dcb7ddb721bb61c862dc761cb71d8b21cb62cb66fc96fd97218b61c852fc563c973d8",
      "721cb61c876dc761dbb2d8b62cf62dcbd220023102111332300000000080",
    ],
  ],
  [
    "small: a subnormal half scale",
    [
      "de0c61f79e28e3d71c69f39e2c61d79e38e3cf1c71e78e3873c79c39e3ce1c7118b66cc76d9bb1db",
      "66ecb61cb66dc76ddb711bb61c862dc761cb72d8b21cb62cb66fc56fd97218b62c862fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb9664436640055006300000001080",
    ],
  ],
  [
    "first group all zero",
    [
      "de0c60f69e28e2d61c68f29e2c60d69e38e3cf1c71e78e3873c79c39e3ce1c7118b46cc46c98b0d8",
      "64ecb41cb46cc46cdb711bb61c862dc761cb72d8b21cb62cb66fc56fd97218b62c862fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb906443664005500632000000ef9c",
    ],
  ],
  [
    "one group far below the others",
    [
      "de0c61f79e28e3d71c69f39e2c61d79e38e3cf1c71e78e3873c79c39e3ce1c7118b66cc76d9bb1db",
      "66ecb61cb66dc76ddb711bb61c862dc761cb72d8b21cb62cb66fc56fd97218b62c862fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb966440664005500630000200ef9c",
    ],
  ],
  [
    "+Inf in one group",
    [
      "de0c61f79e28e3d71c69f39e2c61d79e3ae3cf1e73e78e3a73c79e3be3ce1e7318b66cc76d9bb1db",
      "66ecb61cb66dc76dd37113b2108221c361c372d0b210b220b66fc56fd97218b62c862fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb966443604005500630000002ef9c",
    ],
  ],
  [
    "NaN in one group",
    [
      "de0c61f79e28e3d71c69f39e2c61d79e38e3cf1c71e78e3873c79c39e3ce1c7118b66cc76d9bb1db",
      "66ecb61cb66dc76ddb711bb61c862dc761cb42d8b21cb62cb66fc56fd97218b62c862fc963c963d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb966443664000500630080000ef9c",
    ],
  ],
  [
    "-Inf and NaN in one group, NaN alone in another",
    [
      "df0d61f79f29e3d75d69f39f2d61d79f38e3cf1c71e78e3873c79c39e3ce1c7118b46cc46c98b0d8",
      "64ecb41cb46cc46cdb711bb61c862dc761cb72d8b21cb62cb66fc56fd97218b60c862fc963c973d8",
      "b21cb66cc76d9bb1db62e8b61cb66dcb9064436600055006b2000000ef9c",
    ],
  ],
  [
    "huge: x³ overflows float32",
    [
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "000000000000000000000000000000000000000000000000aaaaaaaa00fc",
    ],
  ],
  [
    "every group non-finite",
    [
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "000000000000000000000000000000000000000000000000000000000000",
    ],
  ],
];

/** ggml's Q6_K blocks for {@link edgeBlocks}, in order. */
const Q6_K_EXPECTED: [string, string[]][] = [
  [
    "all zero",
    [
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000",
    ],
  ],
  [
    "one outlier",
    [
      "060503010c0a0806010f0d080604030dac8a6843f1dfba6856341fcdab866513f1dc8a684631dfcd",
      "a8863413fdac8a6843f1dfba6856341fcdab866513f1dc8a833710ffa98d604afed2bf6054301fc5",
      "ab866513f1dc8a684631dfcda8863413fdac8a6843f1dfba6856341fcdab866515ffd084604f32de",
      "caa08d391ff0a7836ca1266bace5266ba1e56aaca1066bacc51a6bb1065aacc1166bb0c55a6cb116",
      "b31568afc61868b30558afc31568b3c65a6cb1165facc1166fb1c15aacb1166f0202020280020202",
      "ff020201020202020021",
    ],
  ],
  [
    "all negative",
    [
      "392e7372b7070b50409584d9281d6261c7160b504f9484d9381d7261b6a5fa493e8372c7170b5040",
      "9594e9382d7261b6160c51409584d9381d7361b7a6fb4a3fc8170c51409594e9392e7362b706fb40",
      "3f8483c8181c5151a595ea392e7372b7170c51409594e9392e7362b706fb404f8483c8181c5151a5",
      "95ea392e7372b7074110441104411044114411044110441104411044104411044110441144110441",
      "04411044114411044110441104010040104411044110441144110441104411048784878087808480",
      "84878487848784870b8d",
    ],
  ],
  [
    "tiny: the half scale flushes to zero",
    [
      "b0e2c3f527083a6c9d7fa1d2f4e617494a6c8e9fb1d3e40628395b7d8ea0c2d3f725083b6e9c7fa2",
      "d0f3e619472a5d8f9fb1d3e40628395b7d8ea0c2d3f51728edfa173946638092bfdcee0b28355774",
      "8eb0e2c3f527083a6c9d7fa1d2f4e617394a6c8e9fb1d3e40628395b7d8ea0c2c4f725083b6e9c7f",
      "a2d0f3e619472a5d6cf1065bbcc1166fb0c51bacf1066bbcc11a6fb0065bacc1166bb0c51a6cf106",
      "f20568bfc2196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b8080888088808880",
      "77808089808880880080",
    ],
  ],
  [
    "small: a subnormal half scale",
    [
      "a0d2c3f517183a6c8d8fa1d2f4f617495b6c8d90c1d2e51628394c7d8ea1b2e3f616183a6d8c8fa1",
      "d1f3f618483a6d8f90c1d2e51628394c7d8ea1b2e3f40738dd0a172956638092cfdcee1b28354774",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f715183b6e8c8f",
      "a2d0f3f619473a6d6cf1065bbcc1166fb0c51bacf1066bbcc51a6fb1065bacc1166bb0c51a6cf106",
      "f21568bfc6196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b8480888089808980",
      "7480808c808980890080",
    ],
  ],
  [
    "first group all zero",
    [
      "a0d0c0f0101030608080a0d0f0f010405b6c8d90c1d2e51628394c7d8ea1b2e3f616183a6d8d8fa1",
      "d1f3f618483a6d8f90c1d2e51628394c7d8ea1b2e3f40738dd0a172956638092cfdcee1b28354674",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f615183b6e8c8f",
      "a2d0f3f619473a6d6cf00458bcc0146cb0c418acf00468bcc51a6fb1065bacc1166bb0c51a6cf106",
      "f21568bfc6196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b0080888089808980",
      "7480808c808980891d88",
    ],
  ],
  [
    "one group far below the others",
    [
      "a0d2c3f517183a6c8d8fa1d2f4f617495b6c8d90c1d2e51628394c7d8ea1b2e3f616183a6d8c8fa1",
      "d1f3f618483a6d8f90c1d2e51628394c7d8ea1b2e3f40738dd0a172956638092cfdcee1b28354674",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f615183b6e8c8f",
      "a2d0f3f619473a6d6cf1065bbcc1166fb0c51bacf1066bbcc51a6fb1065bacc1166bb0c51a6cf106",
      "f21568bfc6196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b8480008089808980",
      "7480808c808980891d88",
    ],
  ],
  [
    "+Inf in one group",
    [
      "a0d2c3f517183a6c8d8fa1d2f4f617495b6c8d90c1d2e51628394c7d8ea1b2e3f616183a6d8d8fa1",
      "d1f3f618483a6d8f90c0d0e0102030407080a0b0e0f00030dd0a172956638092cfdcee1b28354674",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f615183b6e8c8f",
      "a2d0f3f619473a6d6cf1065bbcc1166fb0c51bacf1066bbcc91a6bb90a5ba8c91a6bb8c91a68f90a",
      "f21568bfc6196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b8480880089808980",
      "7480808c808980891d88",
    ],
  ],
  [
    "NaN in one group",
    [
      "a0d2c3f517183a6c8d8fa1d2f4f617494b6c8d90b1d2e50628390c7d8ea1c2d3f616183a6d8d8fa1",
      "d1f3f618483a6d8f90c1d2e51628394c7d8ea1b2e3f40738dd0a172956638092cfdcee1b28354674",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f615183b6e8c8f",
      "a2d0f3f619473a6d6cf1065bbcc1166fb0c51bacf1066bbcc51a6fb1065bacc1166ba0c51a6cf106",
      "f21568bfc6196cb30558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b8480888089008980",
      "7480808c808980891d88",
    ],
  ],
  [
    "-Inf and NaN in one group, NaN alone in another",
    [
      "a0d0c0f0101030608080a0d0f0f010405b6c8d90c1d2e51628394c7d8ea1b2e3f616183a6d8d8fa1",
      "d1f3f618483a6d8f90c1d2e51628394c7d8ea1b2e3f40738edfa1739466380920fdcee0b28355674",
      "8ea1d2c3f417183a6b8e8fa0d3f4f517295b6c8d90c1d2e51628394c7d8ea1b2c4f615183b6e8c8f",
      "a2d0f3f619473a6d6ef2065abec2166eb2c61aaef2066abec51a6fb1065bacc1166bb0c51a6cf106",
      "f20568bfc6196cb32558afc21568b3c61a6cf1065bbcc1166fb0c51bacf1066b0080888089808980",
      "7480808c008980891d88",
    ],
  ],
  [
    "huge: x³ overflows float32",
    [
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0000000000000000",
      "000000000000000000fc",
    ],
  ],
  [
    "every group non-finite",
    [
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000",
    ],
  ],
];

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function checkAgainstGgml(
  type: string,
  kernel: (src: Float32Array, dst: Uint8Array, blocks: number) => void,
  blockBytes: number,
  expected: [string, string[]][],
): void {
  const cases = edgeBlocks();
  assert.deepEqual(cases.map(([name]) => name), expected.map(([name]) => name));
  // All blocks in one call: no state may leak from one super-block into the next.
  const values = new Float32Array(cases.length * 256);
  cases.forEach(([, block], k) => values.set(block, k * 256));
  const out = new Uint8Array(cases.length * blockBytes).fill(0xaa);
  kernel(values, out, cases.length);
  expected.forEach(([name, parts], k) => {
    const want = parts.join("");
    assert.equal(hex(out.subarray(k * blockBytes, (k + 1) * blockBytes)), want, `${type}: ${name}`);
    // One block alone, through the registered quantizer.
    assert.equal(hex(quantize(type, cases[k][1])), want, `${type} via quantize(): ${name}`);
  });
}

test("quantizeRowQ3K() writes ggml's bytes for zero, outlier, tiny, huge, NaN and Inf blocks", () => {
  checkAgainstGgml("Q3_K", quantizeRowQ3K, 110, Q3_K_EXPECTED);
});

test("quantizeRowQ6K() writes ggml's bytes for zero, outlier, tiny, huge, NaN and Inf blocks", () => {
  checkAgainstGgml("Q6_K", quantizeRowQ6K, 210, Q6_K_EXPECTED);
});

test("nearestInt() rounds half to even and gives ggml's bits outside ±2^22", () => {
  // Each pair: a float32 and what ggml's nearest_int returns for it (x86-64, gcc -O2).
  const cases: [number, number][] = [
    [2.5, 2],
    [3.5, 4],
    [-2.5, -2],
    [-0.5, 0],
    [0.5, 0],
    [4194303.5, -4194304],
    [-4194304, -4194304],
    [5e6, -3791456],
    [-5e6, 2582912],
    [Math.fround(1e30), 651978],
    [Infinity, -4194304],
    [-Infinity, -4194304],
    [NaN, 0],
  ];
  for (const [value, expected] of cases) assert.equal(nearestInt(value), expected, `${value}`);
});
