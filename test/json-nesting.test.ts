import test from 'ava';
import { exceedsNestingDepth } from '@spyder-remote/protocol/node';

const deeper = (text: string, maxDepth: number) => exceedsNestingDepth(Buffer.from(text), maxDepth);

test('counts arrays and objects inside one another', (t) => {
	t.false(deeper('{"a":[1,{"b":[]}]}', 4));
	t.true(deeper('{"a":[1,{"b":[]}]}', 3));
	t.false(deeper('[[],[],[],[]]', 2), 'siblings do not add up');
	t.false(deeper('1', 0));
	t.true(deeper('[]', 0));
});

test('brackets inside strings do not count, escaped quotes do not end them', (t) => {
	t.false(deeper('{"a":"[[[[{{{{"}', 1));
	t.false(deeper('{"a":"\\"[[[[\\""}', 1));
	t.true(deeper('{"a":"\\\\"}', 0), 'an escaped backslash before the quote ends the string');
	t.false(deeper('{"a":"\\\\\\"[[["}', 1));
	t.false(deeper('["wörld","[", "\\u005b"]', 1), 'multi-byte UTF-8 and \\u escapes');
});

test('an unterminated string or unbalanced brackets are left for JSON.parse', (t) => {
	t.false(deeper('["[[[[[[', 1));
	t.false(deeper(']]]][[[', 3), 'invalid JSON may be counted wrong, but JSON.parse refuses it at once');
});

test('a hostile body is refused at the first byte past the limit, in linear time', (t) => {
	const deep = Buffer.from('['.repeat(16 * 1024 * 1024));
	const started = process.hrtime.bigint();
	t.true(exceedsNestingDepth(deep, 32));
	const escapes = Buffer.from(`["${'\\\\'.repeat(4 * 1024 * 1024)}"]`);
	t.false(exceedsNestingDepth(escapes, 1));
	const quotes = Buffer.from(`["${'\\"'.repeat(4 * 1024 * 1024)}"]`);
	t.false(exceedsNestingDepth(quotes, 1));
	const ms = Number(process.hrtime.bigint() - started) / 1e6;
	// Each of the 8 MiB bodies above takes tens of milliseconds; a quadratic backslash count would take hours.
	t.true(ms < 2000, `took ${ms} ms`);
});
