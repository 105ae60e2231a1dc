/** SHA-256 of each asset, and the `<name>.sha256` file beside it in the format `sha256sum -c` reads. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

async function sha256(file) {
	const hash = createHash('sha256');
	await pipeline(createReadStream(file), hash);
	return hash.digest('hex');
}

/** Writes `file`.sha256 and returns the digest. */
export async function writeChecksum(file) {
	const digest = await sha256(file);
	await writeFile(`${file}.sha256`, `${digest}  ${basename(file)}\n`);
	return digest;
}
