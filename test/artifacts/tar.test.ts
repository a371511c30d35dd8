import * as zlib from 'zlib';
import { ArchiveError, gzip, readTarGz, writeTar } from '../../src/artifacts/tar';
import { tarHeaders, untar } from '../support/helm';

describe('writeTar and gzip', () => {
  const entries = [
    { name: 'c/Chart.yaml', data: Buffer.from('name: c\n') },
    { name: `c/${'deep/'.repeat(30)}file.txt`, data: Buffer.from('prefix split') },
    { name: `c/${'x'.repeat(180)}.txt`, data: Buffer.from('pax path') },
    { name: 'c/empty', data: Buffer.alloc(0) },
  ];

  test('writes the same bytes for the same entries', () => {
    expect(gzip(writeTar(entries)).equals(gzip(writeTar(entries.map(e => ({ ...e, data: Buffer.from(e.data) })))))).toBe(true);
  });

  test('writes mode 0644, owner 0 and the fixed time on every entry', () => {
    const headers = tarHeaders(writeTar(entries, { mtime: 1234 })).filter(h => h.name !== 'PaxHeader');
    expect(headers).toHaveLength(4);
    for (const h of headers) {
      expect(h).toMatchObject({ mode: 0o644, uid: 0, gid: 0, mtime: 1234, uname: '', gname: '' });
    }
  });

  test('keeps long paths whole (ustar prefix, then PAX)', () => {
    const files = untar(writeTar(entries));
    expect([...files.keys()]).toEqual(entries.map(e => e.name));
    expect([...readTarGz(gzip(writeTar(entries)), { maxBytes: 1e6, maxEntries: 10 })].map(e => e.name)).toEqual(entries.map(e => e.name));
  });

  test('writes a gzip header without a name or a time', () => {
    const gz = gzip(Buffer.from('x'));
    expect(gz.readUInt32LE(4)).toBe(0);
    // FLG: no FNAME bit (0x08), no other optional field.
    expect(gz[3]).toBe(0);
  });
});

describe('readTarGz', () => {
  test('fails on bytes that are not gzip', () => {
    expect(() => readTarGz(Buffer.from('plain text'), { maxBytes: 100, maxEntries: 10 })).toThrow(ArchiveError);
  });

  test('fails beyond the uncompressed size limit', () => {
    const bomb = zlib.gzipSync(writeTar([{ name: 'a', data: Buffer.alloc(100_000) }]));
    expect(() => readTarGz(bomb, { maxBytes: 50_000, maxEntries: 10 })).toThrow(/more than 50000 bytes once uncompressed/);
  });

  test('fails beyond the entry limit', () => {
    const many = gzip(writeTar(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') }))));
    expect(() => readTarGz(many, { maxBytes: 1e6, maxEntries: 4 })).toThrow(/more than 4 entries/);
  });

  test('fails on a corrupted header', () => {
    const tar = writeTar([{ name: 'a', data: Buffer.from('x') }]);
    tar[10] = tar[10] === 0x41 ? 0x42 : 0x41;
    expect(() => readTarGz(zlib.gzipSync(tar), { maxBytes: 1e6, maxEntries: 4 })).toThrow(/bad header checksum/);
  });
});
