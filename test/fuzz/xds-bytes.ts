/** Hand-encoded protobuf inputs for the decoder tests. */

/** A Struct nested `depth` deep, encoded by hand (a client can send this as node metadata). */
export function nestedStructBytes(depth: number): Buffer {
  let inner = Buffer.alloc(0); // empty Struct
  for (let i = 0; i < depth; i++) {
    const value = Buffer.concat([Buffer.from([0x2a]), varint(inner.length), inner]); // Value.struct_value = 5
    const entry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x61, 0x12]), varint(value.length), value]); // key "a", value
    inner = Buffer.concat([Buffer.from([0x0a]), varint(entry.length), entry]); // Struct.fields = 1
  }
  return inner;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

