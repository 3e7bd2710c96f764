#!/usr/bin/env node
// Signs EIP-712 typed data the way wallets do, for cross-checking the Python signer.
//
// MetaMask's eth_signTypedData_v4 is `@metamask/eth-sig-util`'s
//   signTypedData({ privateKey, data, version: SignTypedDataVersion.V4 })
// so a digest or signature that matches this script matches what users' wallets produce.
//
//   stdin:  {"privateKey": "0x<64 hex>", "typedData": {types, primaryType, domain, message}}
//   stdout: 0x<130 hex> (r || s || v, v in 27/28), one line
//
// Integers beyond 2**53 - 1 must arrive as decimal strings: a JSON number that large has
// already lost precision when JavaScript parses it, so the script refuses it rather than
// signing a different value. Errors go to stderr and never include the private key.
'use strict';

const { signTypedData, SignTypedDataVersion } = require('@metamask/eth-sig-util');

const PRIVATE_KEY_RE = /^0x[0-9a-fA-F]{64}$/;

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function parseRequest(text) {
  const request = JSON.parse(text, (key, value) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`field "${key}" is a JSON number JavaScript cannot hold exactly; send it as a decimal string`);
    }
    return value;
  });
  if (typeof request.privateKey !== 'string' || !PRIVATE_KEY_RE.test(request.privateKey)) {
    throw new Error('privateKey must be a 0x-prefixed 32-byte hex string');
  }
  if (request.typedData === null || typeof request.typedData !== 'object') {
    throw new Error('typedData must be an eth_signTypedData_v4 object');
  }
  return request;
}

async function main() {
  const { privateKey, typedData } = parseRequest(await readStdin());
  const signature = signTypedData({
    privateKey: Buffer.from(privateKey.slice(2), 'hex'),
    data: typedData,
    version: SignTypedDataVersion.V4,
  });
  process.stdout.write(`${signature}\n`);
}

main().catch((error) => {
  process.stderr.write(`js-signer: ${error.message}\n`);
  process.exit(1);
});
