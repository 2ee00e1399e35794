import { describe, expect, it } from "vitest";
import { compareQuantities, parseKubernetesQuantity, quantityValue, type KubernetesQuantity } from "./kubernetesQuantity";

const q = (text: string): KubernetesQuantity => {
  const parsed = parseKubernetesQuantity(text);
  if (!parsed) throw new Error(`${text} did not parse`);
  return parsed;
};

describe("Kubernetes quantity grammar", () => {
  // Each verdict checked against k8s.io/apimachinery v0.37.1 resource.ParseQuantity.
  it.each([
    ["100m", 0.1], ["0.5", 0.5], [".5", 0.5], ["5.", 5], ["+1", 1], ["-1", -1], ["1e3", 1000], ["1E3", 1000],
    ["5e-1", 0.5], ["1e+2", 100], ["1E", 1e18], ["2k", 2000], ["500Mi", 500 * 2 ** 20], ["1Gi", 2 ** 30], ["100u", 1e-4], ["100n", 1e-7],
  ])("reads %s as %d", (text, value) => {
    expect(quantityValue(q(text))).toBeCloseTo(value, 12);
  });

  it.each(["", "1e", "1e1.5", "2K", "1 ", " 1", "100mc", "0x10", "1e3m", "1m3", "1.2.3", "3GiB", "1,5"])("refuses %j as Kubernetes does", (text) => {
    expect(parseKubernetesQuantity(text)).toBeUndefined();
  });

  it("tells a binary suffix, a decimal one and an exponent apart ('1E' is exa, '1E3' an exponent)", () => {
    expect([q("1Ei").kind, q("1E").kind, q("1E3").kind, q("1").kind]).toEqual(["binary", "decimal", "exponent", "decimal"]);
    expect(q("250e-3").suffix).toBe("e-3");
  });

  it("compares exactly, across suffix kinds", () => {
    expect(compareQuantities(q("1"), q("1000m"))).toBe(0);
    expect(compareQuantities(q("250e-3"), q("0.25"))).toBe(0);
    expect(compareQuantities(q("1Ki"), q("1k"))).toBe(1);
    expect(compareQuantities(q("999999999n"), q("1"))).toBe(-1);
  });
});
