/**
 * A/B experiments: which variant of an ad a click goes to, and whether the best variant's lead in
 * conversion rate is more than chance.
 */
import type { Variant } from "./registry";

/** A number in [0, 1) from a string: cyrb53, a fast 53-bit hash that spreads similar ids evenly. */
function unitHash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)) / 2 ** 53;
}

/**
 * The variant a click goes to, by weight: the same (ad, user) always gets the same variant, so a person
 * sees one version of the ad however often they click; without a user it is random.
 */
export function pickVariant(variants: readonly Variant[], adId: string, userId: string | null): Variant {
  const total = variants.reduce((s, v) => s + v.weight, 0);
  let point = (userId === null ? Math.random() : unitHash(`${adId}|${userId}`)) * total;
  for (const v of variants) {
    point -= v.weight;
    if (point < 0) return v;
  }
  return variants[variants.length - 1];
}

/** Φ, the standard normal CDF (Abramowitz & Stegun 7.1.26 for erf: absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  // At 0 the approximation is 1e-9 off; exactly 0 keeps "no difference" at p = 1.
  const erf = x === 0 ? 0 : 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export interface ProportionTest {
  z: number;
  p_value: number;
}

/**
 * Two-proportion z-test (pooled, two-sided) of x1/n1 against x2/n2: is the difference in rates more than
 * sampling noise? Without a difference to measure (no clicks, or a pooled rate of 0 or 1) z is 0 and p is 1.
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ProportionTest {
  if (n1 === 0 || n2 === 0) return { z: 0, p_value: 1 };
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { z: 0, p_value: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, p_value: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) };
}
