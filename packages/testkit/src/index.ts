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
