import { FlowReader, balanced, blockScalarText, keyOf, stripComment } from '../../src/artifacts/yaml-scan';

const fail = (message: string) => new Error(message);

describe('stripComment', () => {
  test.each([
    ['a trailing comment', 'value # note', 'value '],
    ['a comment that is the whole text', '# note', ''],
    ['a hash inside double quotes', '"a # b" # c', '"a # b" '],
    ['a hash inside single quotes', '\'a # b\' # c', '\'a # b\' '],
    ['an escaped double quote before a hash', '"a \\" # b" # c', '"a \\" # b" '],
    ['a hash with no space before it', 'a#b', 'a#b'],
    ['an apostrophe inside a word, which opens no quote', 'it\'s # c', 'it\'s '],
    ['a quote left open', '"a # b', '"a # b'],
  ])('keeps the text before %s', (_name, text, expected) => {
    expect(stripComment(text)).toBe(expected);
  });
});

describe('balanced', () => {
  test.each([
    ['[a, {b: c}]', true],
    ['[a, {b: c}', false],
    ['["]", b]', true],
    ['["a', false],
  ])('says whether %s is a whole flow collection', (text, expected) => {
    expect(balanced(text)).toBe(expected);
  });
});

describe('keyOf', () => {
  test('reads plain and quoted keys with the length of their "key:"', () => {
    expect(keyOf('name: web', fail)).toEqual({ key: 'name', length: 5 });
    expect(keyOf('"a\\tb" : 1', fail)).toEqual({ key: 'a\tb', length: 8 });
    expect(keyOf('- item', fail)).toBeUndefined();
  });
});

describe('blockScalarText', () => {
  test.each([
    ['literal, clipped', ['one', 'two', '', ''], true, '', 'one\ntwo\n'],
    ['literal, stripped', ['one', ''], true, '-', 'one'],
    ['literal, kept', ['one', '', ''], true, '+', 'one\n\n\n'],
    ['folded, an empty line as a break', ['one', 'two', '', 'three'], false, '', 'one two\nthree\n'],
    ['folded, more-indented lines kept', ['one', '  two', 'three'], false, '', 'one\n  two\nthree\n'],
    ['empty and kept', ['', ''], true, '+', '\n\n'],
    ['empty and clipped', [''], false, '', ''],
  ])('gives the value of %s', (_name, lines, literal, chomp, expected) => {
    expect(blockScalarText(lines, literal, chomp)).toBe(expected);
  });
});

describe('FlowReader', () => {
  test('reads nested flow collections, quoted and null scalars', () => {
    expect(new FlowReader('{a: [1, "x, y"], b: ~, c}', fail, t => t).read()).toEqual({ a: ['1', 'x, y'], b: null, c: null });
  });

  test.each([
    ['[a b', /expected "," or "\]" in a flow sequence/],
    ['{a: 1]}', /expected "," or "}" in a flow mapping/],
    ['[a] b', /unexpected text after a flow collection: "b"/],
    ['["a]', /unterminated quoted scalar/],
  ])('fails on %s', (text, message) => {
    expect(() => new FlowReader(text, fail, t => t).read()).toThrow(message);
  });
});
