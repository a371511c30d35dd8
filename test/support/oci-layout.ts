import * as fs from 'fs';
import * as path from 'path';
import { allBlobs, allManifests, BuiltImage, makeTar } from './images';

/** One image of a layout, and its ref name in `index.json`. */
export interface LayoutEntry {
  readonly image: BuiltImage;
  readonly ref?: string;
}

/** The files of an OCI image layout holding the images, as `skopeo copy ... oci:DIR:REF` lays them out. */
export function layoutFiles(entries: LayoutEntry[]): { name: string; data: Buffer }[] {
  const files = new Map<string, Buffer>();
  const blob = (digest: string, data: Buffer) => files.set(`blobs/sha256/${digest.slice(7)}`, data);
  for (const { image } of entries) {
    for (const [digest, data] of allBlobs(image)) blob(digest, data);
    for (const m of allManifests(image)) blob(m.digest, m.manifest);
  }
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: entries.map(({ image, ref }) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.manifest.length,
      ...(ref ? { annotations: { 'org.opencontainers.image.ref.name': ref } } : {}),
    })),
  };
  return [
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    ...[...files].map(([name, data]) => ({ name, data })),
  ];
}

/** Writes the layout into a new directory under `parent` and returns its path. */
export function writeLayout(parent: string, entries: LayoutEntry[]): string {
  const dir = fs.mkdtempSync(path.join(parent, 'layout-'));
  for (const file of layoutFiles(entries)) {
    fs.mkdirSync(path.dirname(path.join(dir, file.name)), { recursive: true });
    fs.writeFileSync(path.join(dir, file.name), file.data);
  }
  return dir;
}

/** The layout as an `oci-archive` tar file under `parent` (entries prefixed `./` as `tar -C DIR .` writes them). */
export function writeLayoutArchive(parent: string, entries: LayoutEntry[], name = 'image.tar'): string {
  const file = path.join(fs.mkdtempSync(path.join(parent, 'archive-')), name);
  fs.writeFileSync(file, makeTar(layoutFiles(entries).map((f) => ({ name: `./${f.name}`, data: f.data }))));
  return file;
}
