/**
 * How deep a JSON text nests, found in one linear pass over its UTF-8 bytes
 * before JSON.parse sees it: parsing a hostile `[[[[…` costs time, and
 * JSON.stringify or any recursive walk of the result costs stack. Only `[`
 * and `{` outside strings count. The text is not validated: for valid JSON
 * the depth is exact, and invalid JSON is left for JSON.parse to refuse.
 */

const quote = 0x22;
const backslash = 0x5c;
const openBracket = 0x5b;
const openBrace = 0x7b;
const closeBracket = 0x5d;
const closeBrace = 0x7d;

/** Whether `text` opens more than `maxDepth` arrays and objects inside one another. */
export function exceedsNestingDepth(text: Uint8Array, maxDepth: number): boolean {
	let depth = 0;
	for (let i = 0; i < text.length; i += 1) {
		const byte = text[i];
		if (byte === quote) {
			i = endOfString(text, i);
			if (i === -1) return false;
		} else if (byte === openBracket || byte === openBrace) {
			depth += 1;
			if (depth > maxDepth) return true;
		} else if (byte === closeBracket || byte === closeBrace) {
			depth -= 1;
		}
	}
	return false;
}

/** The index of the quote that closes the string opened at `open`, or -1. Strings are skipped with indexOf, not byte by byte. */
function endOfString(text: Uint8Array, open: number): number {
	for (let close = text.indexOf(quote, open + 1); close !== -1; close = text.indexOf(quote, close + 1)) {
		let escapes = 0;
		while (text[close - 1 - escapes] === backslash) escapes += 1;
		// Each backslash run is counted once, by the quote that ends it, so the pass stays linear.
		if (escapes % 2 === 0) return close;
	}
	return -1;
}
