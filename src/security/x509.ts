/**
 * @peculiar/x509 wired to node's WebCrypto, loaded once. The library resolves its ASN.1
 * serializers through tsyringe, which needs the Reflect metadata polyfill before it loads: that is
 * why every user of the library imports it from here.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const subtle = webcrypto.subtle;
