// Attribute-array values (CKA_UNWRAP_TEMPLATE, CKA_WRAP_TEMPLATE: PKCS#11 v2.40 §4.8) for pkcs11js.
// pkcs11js 2.1.7 passes an attribute value as a Buffer, a number, a boolean or a string, never as a
// nested template (and a nested array crashes it), and graphene-pk11 is built on pkcs11js. The
// value of such an attribute is an array of CK_ATTRIBUTE structs whose pValue points at each inner
// value, so the inner values are copied into native memory (koffi) and the array, with their
// addresses, is handed to pkcs11js as an ordinary Buffer, which it copies verbatim.
import koffi from 'koffi';
import type pkcs11js from 'pkcs11js';

/** CK_ULONG and pointers: 8 bytes on the LP64 platforms PKCS#11 libraries are built for here. */
const ULONG_BYTES = koffi.sizeof('unsigned long');
const POINTER_BYTES = koffi.sizeof('void *');
const ATTRIBUTE_BYTES = 2 * ULONG_BYTES + POINTER_BYTES;

type Scalar = boolean | number | string | Buffer;

export interface ScalarAttribute {
  type: number;
  value: Scalar;
}

function encodeValue(value: Scalar): Buffer {
  if (typeof value === 'boolean') return Buffer.of(value ? 1 : 0);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (typeof value === 'number') {
    const bytes = Buffer.alloc(ULONG_BYTES);
    bytes.writeUIntLE(value, 0, Math.min(ULONG_BYTES, 6));
    return bytes;
  }
  return value;
}

function writeUlong(target: Buffer, value: bigint, offset: number): void {
  if (ULONG_BYTES === 8) target.writeBigUInt64LE(value, offset);
  else target.writeUInt32LE(Number(value), offset);
}

/**
 * Calls `use` with `{ type, value }` whose value is `template` as a CK_ATTRIBUTE array. The native
 * copies of the inner values live for the duration of `use`: until it returns, or, when it returns
 * a promise (an Async PKCS#11 call), until that promise settles.
 */
export function withAttributeArray<T>(
  type: number,
  template: ScalarAttribute[],
  use: (attribute: pkcs11js.Attribute) => T,
): T {
  const allocations: unknown[] = [];
  const free = () => {
    for (const native of allocations) koffi.free(native);
  };
  let pending = false;
  try {
    const array = Buffer.alloc(template.length * ATTRIBUTE_BYTES);
    template.forEach((attribute, index) => {
      const bytes = encodeValue(attribute.value);
      const native: unknown = koffi.alloc('uint8_t', Math.max(bytes.length, 1));
      allocations.push(native);
      Buffer.from(koffi.view(native, bytes.length)).set(bytes);
      const offset = index * ATTRIBUTE_BYTES;
      writeUlong(array, BigInt(attribute.type), offset);
      array.writeBigUInt64LE(koffi.address(native), offset + ULONG_BYTES);
      writeUlong(array, BigInt(bytes.length), offset + ULONG_BYTES + POINTER_BYTES);
    });
    const result = use({ type, value: array });
    if (result instanceof Promise) {
      pending = true;
      return result.finally(free) as T;
    }
    return result;
  } finally {
    if (!pending) free();
  }
}
