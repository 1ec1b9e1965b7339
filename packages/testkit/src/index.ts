export { type BindMount, cryptSha512, spawnWithBindMounts, systemUserMounts } from './mountns.js';
export {
  canUseNetns,
  createNetns,
  enterNetns,
  type Netns,
  type NetnsEnvironment,
  netnsSkipReason,
  runInNetns,
  type SpawnedInNetns,
  sh,
  tryCommand,
  withNetnsEnvironment,
} from './netns.js';
export {
  missingCommandsReason,
  SKIP_REASON_KEY,
  type SkipOptions,
  type SkippableContext,
  skipNow,
  skipUnless,
  skipWhen,
} from './skip.js';
export {
  checkOsGatedList,
  formatSummary,
  type OsGatedList,
  type RunSummary,
  type SkippedTest,
  summarizeRun,
  summaryOk,
  type VitestJsonReport,
} from './skip-report.js';
export { commandExists, waitFor, waitForPort } from './wait.js';
export {
  AF_INET as XNU_AF_INET,
  AF_INET6 as XNU_AF_INET6,
  decodeMessage as decodeXnuMessage,
  encodeMessage as encodeXnuMessage,
  RTF_IFSCOPE as XNU_RTF_IFSCOPE,
  RTF_PROTO1 as XNU_RTF_PROTO1,
  XnuErrno,
  type XnuMessage,
} from './xnu/codec.js';
export { CONFIGD_PID, SimulatedXnu, type SimulatedXnuOptions, type XnuInterface } from './xnu/kernel.js';
export { XnuProcess, type XnuUtun } from './xnu/process.js';
export type { SyscallErrorFactory, XnuRouteSocket } from './xnu/route-socket.js';
export { describeRoute, type XnuRoute } from './xnu/table.js';
export { type UtunFdLike, type UtunKernelSide, utunDatagramPair } from './xnu/utun.js';
