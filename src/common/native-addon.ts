import { createRequire } from 'node:module';

declare const productBrand: unique symbol;
/** A product of the addon (an external value; only the addon reads it). */
export type NativeProduct = { readonly [productBrand]: true };

/**
 * The native helper of `native/` (rsa_product.c), a package of this repository that npm ci
 * builds with node-gyp, as it builds pkcs11js: products modulo an RSA modulus by Montgomery
 * multiplication, for the zone verifier's batch check (src/dnssec/rsa-batch.ts). Pure
 * arithmetic on public data: no IO, no clock, no state outside the product it is given.
 */
export interface NativeAddon {
  /** For a modulus (big-endian, odd, no leading zero, up to 4096 bits) and EM with a digest of zeros. */
  create(modulus: Uint8Array, emTemplate: Uint8Array, digestLength: number): NativeProduct;
  /** Multiplies in a signature and EM with this digest; false (nothing added) when the signature is not as long as the modulus or not below it. */
  add(product: NativeProduct, signature: Uint8Array, digestHex: string): boolean;
  /** s_1 ... s_m R^-m and EM_1 ... EM_m R^-m mod n (R = 2^(64 limbs)), and m; the product starts again. */
  take(product: NativeProduct): { s: Uint8Array; e: Uint8Array; count: number };
}

let loaded: { addon: NativeAddon | undefined; error: string | undefined } | undefined;

/** The addon, or undefined when it was not built here (`nativeAddonError` says why); loaded once. */
export function nativeAddon(): NativeAddon | undefined {
  loaded ??= load();
  return loaded.addon;
}

/** Why the addon could not be loaded, or undefined. */
export function nativeAddonError(): string | undefined {
  loaded ??= load();
  return loaded.error;
}

function load(): { addon: NativeAddon | undefined; error: string | undefined } {
  try {
    return { addon: createRequire(import.meta.url)('hms-native') as NativeAddon, error: undefined };
  } catch (e) {
    return { addon: undefined, error: e instanceof Error ? e.message : String(e) };
  }
}
