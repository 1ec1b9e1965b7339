export { internetChecksum } from './checksum.js';
