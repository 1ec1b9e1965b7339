export { type BindMount, cryptSha512, spawnWithBindMounts, systemUserMounts } from './mountns.js';
export {
  canUseNetns,
  createNetns,
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
