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
export { commandExists, waitFor, waitForPort } from './wait.js';
