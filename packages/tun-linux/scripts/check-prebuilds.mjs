// prepack: the tarball must carry a prebuild for every architecture in prebuilds.mjs, built from the
// sources being packed. Packing never builds them itself (cross-compiling needs Debian's cross toolchain);
// it refuses, naming the command.
import { prebuildProblem, sourcesHash, targets } from './prebuilds.mjs';

const sources = sourcesHash();
const problems = Object.keys(targets)
  .map((arch) => prebuildProblem(arch, undefined, sources))
  .filter(Boolean);
if (problems.length > 0) {
  console.error(`@ztun/tun-linux: cannot pack without current prebuilds:\n  ${problems.join('\n  ')}`);
  console.error('build them first: pnpm --filter @ztun/tun-linux build:prebuilds');
  process.exit(1);
}
console.log(`@ztun/tun-linux: prebuilds current for ${Object.keys(targets).join(', ')}`);
