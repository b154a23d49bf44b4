/*
 * hms-native: products modulo an RSA modulus, for the zone verifier's batch check of
 * RSASSA-PKCS1-v1_5 signatures (src/dnssec/rsa-batch.ts). Everything here is public data:
 * signatures, padded digests and the public modulus. No secret passes through this code, so
 * it needs no constant-time arithmetic.
 *
 * A product holds two accumulators, S and E, multiplied by Montgomery multiplication with
 * R = 2^(64k) for a modulus of k 64-bit limbs. Each add(s, digest) multiplies S by the signature s and E by
 * EM = template + digest (the PKCS #1 v1.5 encoding, RFC 8017 section 9.2, whose padding and
 * DigestInfo prefix are fixed for a key and hash). After m adds, S = s_1 ... s_m R^-m and
 * E = EM_1 ... EM_m R^-m (mod n); the caller removes R^-m and compares. Montgomery
 * multiplication: Koc, Acar and Kaliski, "Analyzing and comparing Montgomery multiplication
 * algorithms", IEEE Micro 16(3), 1996, the CIOS method.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__SIZEOF_INT128__)
#error "hms-native needs a compiler with unsigned __int128 (GCC or Clang on a 64-bit target)"
#endif

typedef unsigned __int128 u128;

/* 4096-bit moduli and below (RFC 3110 allows up to 4096 bits for RSA DNSKEYs). */
#define MAX_LIMBS 64

typedef struct {
  size_t k;            /* limbs of the modulus */
  size_t bytes;        /* octets of the modulus (big-endian input length) */
  size_t digest;       /* octets of the digest in EM */
  uint64_t n0;         /* -n^-1 mod 2^64 */
  uint64_t n[MAX_LIMBS];
  uint64_t em[MAX_LIMBS];   /* EM with a digest of zeros */
  uint64_t s_acc[MAX_LIMBS];
  uint64_t e_acc[MAX_LIMBS];
  size_t count;
} product_t;

/* r = t mod n for t < 2n of k + 1 limbs (the end of a Montgomery multiplication) */
static void reduce(const product_t *p, uint64_t *r, const uint64_t *t) {
  const size_t k = p->k;
  int geq = t[k] != 0;
  if (!geq) {
    geq = 1;
    for (size_t j = k; j-- > 0;) {
      if (t[j] != p->n[j]) {
        geq = t[j] > p->n[j];
        break;
      }
    }
  }
  if (geq) {
    uint64_t borrow = 0;
    for (size_t j = 0; j < k; j++) {
      u128 d = (u128)t[j] - p->n[j] - borrow;
      r[j] = (uint64_t)d;
      borrow = (uint64_t)(d >> 64) & 1;
    }
  } else {
    memcpy(r, t, k * sizeof(uint64_t));
  }
}

/* r = a b R^-1 mod n, for a, b < n; r may be a or b (the CIOS method) */
static void mont_mul(const product_t *p, uint64_t *r, const uint64_t *a, const uint64_t *b) {
  const size_t k = p->k;
  const uint64_t *n = p->n;
  uint64_t t[MAX_LIMBS + 2];
  memset(t, 0, (k + 2) * sizeof(uint64_t));
  for (size_t i = 0; i < k; i++) {
    /* t += a b[i] */
    uint64_t c = 0;
    const uint64_t bi = b[i];
    for (size_t j = 0; j < k; j++) {
      u128 v = (u128)a[j] * bi + t[j] + c;
      t[j] = (uint64_t)v;
      c = (uint64_t)(v >> 64);
    }
    u128 v = (u128)t[k] + c;
    t[k] = (uint64_t)v;
    t[k + 1] = (uint64_t)(v >> 64);
    /* t = (t + m n) / 2^64, with m chosen so that the low limb is zero */
    const uint64_t m = t[0] * p->n0;
    v = (u128)m * n[0] + t[0];
    c = (uint64_t)(v >> 64);
    for (size_t j = 1; j < k; j++) {
      v = (u128)m * n[j] + t[j] + c;
      t[j - 1] = (uint64_t)v;
      c = (uint64_t)(v >> 64);
    }
    v = (u128)t[k] + c;
    t[k - 1] = (uint64_t)v;
    t[k] = t[k + 1] + (uint64_t)(v >> 64);
  }
  reduce(p, r, t);
}

/* big-endian octets (exactly p->bytes of them) into limbs */
static void load(const product_t *p, uint64_t *out, const uint8_t *in) {
  const uint8_t *end = in + p->bytes;
  for (size_t j = 0; j < p->k; j++) {
    /* limb j: the 8 octets that end 8j octets before the end (fewer for the top limb) */
    const uint8_t *stop = end - 8 * j, *from = stop - 8 < in ? in : stop - 8;
    uint64_t limb = 0;
    for (const uint8_t *c = from; c < stop; c++) limb = limb << 8 | *c;
    out[j] = limb;
  }
}

static void store(const product_t *p, uint8_t *out, const uint64_t *in) {
  for (size_t i = 0; i < p->bytes; i++) {
    size_t bit = (p->bytes - 1 - i) * 8;
    out[i] = (uint8_t)(in[bit / 64] >> (bit % 64));
  }
}

/* a < n, limb by limb from the top */
static int below_modulus(const product_t *p, const uint64_t *a) {
  for (size_t j = p->k; j-- > 0;) {
    if (a[j] != p->n[j]) return a[j] < p->n[j];
  }
  return 0;
}

static void reset(product_t *p) {
  /* 1 in Montgomery form would be R mod n; the plain 1 keeps the R^-m bookkeeping simple */
  memset(p->s_acc, 0, sizeof(p->s_acc));
  memset(p->e_acc, 0, sizeof(p->e_acc));
  p->s_acc[0] = 1;
  p->e_acc[0] = 1;
  p->count = 0;
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int bytes_arg(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_typed;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *raw;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = raw;
  return 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* create(modulus: Uint8Array, emTemplate: Uint8Array, digestLength: number): external */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return throw_error(env, "create(modulus, emTemplate, digestLength)");
  uint8_t *modulus, *em;
  size_t modulus_length, em_length;
  uint32_t digest;
  if (!bytes_arg(env, argv[0], &modulus, &modulus_length) || !bytes_arg(env, argv[1], &em, &em_length)) return throw_error(env, "modulus and emTemplate must be Uint8Arrays");
  if (napi_get_value_uint32(env, argv[2], &digest) != napi_ok) return throw_error(env, "digestLength must be a number");
  if (modulus_length == 0 || modulus_length > MAX_LIMBS * 8 || em_length != modulus_length || modulus[0] == 0 || (modulus[modulus_length - 1] & 1) == 0 || digest == 0 || digest > modulus_length) {
    return throw_error(env, "the modulus must be odd, without leading zeros, at most 4096 bits, and as long as emTemplate");
  }
  product_t *p = calloc(1, sizeof(product_t));
  if (p == NULL) return throw_error(env, "out of memory");
  p->bytes = modulus_length;
  p->k = (modulus_length + 7) / 8;
  p->digest = digest;
  load(p, p->n, modulus);
  load(p, p->em, em);
  /* n0 = -n^-1 mod 2^64 by Newton's iteration: each step doubles the correct low bits */
  uint64_t inv = 1;
  for (int i = 0; i < 7; i++) inv *= 2 - p->n[0] * inv;
  p->n0 = (uint64_t)0 - inv;
  if (!below_modulus(p, p->em)) {
    free(p);
    return throw_error(env, "emTemplate must be below the modulus");
  }
  reset(p);
  napi_value result;
  if (napi_create_external(env, p, finalize, NULL, &result) != napi_ok) {
    free(p);
    return throw_error(env, "napi_create_external failed");
  }
  return result;
}

static product_t *product_arg(napi_env env, napi_value value) {
  void *data;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* The arguments of a call whose first is a product, and that product; NULL (thrown) when they are not that. */
static product_t *product_call(napi_env env, napi_callback_info info, size_t expected, napi_value *argv, const char *usage) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != expected) {
    throw_error(env, usage);
    return NULL;
  }
  product_t *p = product_arg(env, argv[0]);
  if (p == NULL) throw_error(env, "not a product");
  return p;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/*
 * add(product, signature: Uint8Array, digestHex: string): boolean. False, and nothing added,
 * when the signature is not as long as the modulus or not below it (RFC 8017 section 8.2.2
 * step 1, RSAVP1 step 1).
 */
static napi_value add(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  product_t *p = product_call(env, info, 3, argv, "add(product, signature, digestHex)");
  if (p == NULL) return NULL;
  uint8_t *signature;
  size_t length;
  if (!bytes_arg(env, argv[1], &signature, &length)) return throw_error(env, "the signature must be a Uint8Array");
  char hex[2 * 64 + 1];
  size_t hex_length;
  if (napi_get_value_string_latin1(env, argv[2], hex, sizeof(hex), &hex_length) != napi_ok || hex_length != 2 * p->digest) return throw_error(env, "the digest must be hex of the digest length");
  napi_value result;
  uint64_t x[MAX_LIMBS];
  if (length != p->bytes || (load(p, x, signature), !below_modulus(p, x))) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  /* EM = template + digest: the digest fills the template's last octets, which are zero */
  uint64_t em[MAX_LIMBS];
  memcpy(em, p->em, p->k * sizeof(uint64_t));
  for (size_t i = 0; i < p->digest; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return throw_error(env, "the digest must be hex");
    size_t bit = (p->digest - 1 - i) * 8;
    em[bit / 64] |= (uint64_t)(hi << 4 | lo) << (bit % 64);
  }
  mont_mul(p, p->s_acc, p->s_acc, x);
  mont_mul(p, p->e_acc, p->e_acc, em);
  p->count++;
  napi_get_boolean(env, true, &result);
  return result;
}

/*
 * take(product): { s: Uint8Array, e: Uint8Array, count: number }: the two accumulators
 * (s_1 ... s_m R^-m and EM_1 ... EM_m R^-m mod n, big-endian, as long as the modulus) and m;
 * the product starts again from 1.
 */
static napi_value take(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  product_t *p = product_call(env, info, 1, argv, "take(product)");
  if (p == NULL) return NULL;
  napi_value result, s, e, count, s_buffer, e_buffer;
  void *s_data, *e_data;
  if (napi_create_arraybuffer(env, p->bytes, &s_data, &s_buffer) != napi_ok || napi_create_arraybuffer(env, p->bytes, &e_data, &e_buffer) != napi_ok) return throw_error(env, "out of memory");
  store(p, s_data, p->s_acc);
  store(p, e_data, p->e_acc);
  napi_create_typedarray(env, napi_uint8_array, p->bytes, s_buffer, 0, &s);
  napi_create_typedarray(env, napi_uint8_array, p->bytes, e_buffer, 0, &e);
  napi_create_uint32(env, (uint32_t)p->count, &count);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "s", s);
  napi_set_named_property(env, result, "e", e);
  napi_set_named_property(env, result, "count", count);
  reset(p);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    { "create", NULL, create, NULL, NULL, NULL, napi_default, NULL },
    { "add", NULL, add, NULL, NULL, NULL, napi_default, NULL },
    { "take", NULL, take, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
