import { type AutoRoutePlan, type AutoRouteStep, MAIN_TABLE, type PlannedRule } from './plan.js';

// Each step as the iproute2 command an operator would type to do the same (ip-route(8), ip-rule(8)): what a
// dry run prints, and what logs name when a step fails.

const hex = (n: number) => `0x${n.toString(16)}`;
const tableName = (t: number) => (t === MAIN_TABLE ? 'main' : String(t));

function ruleText(rule: PlannedRule): string {
  const parts = [`pref ${rule.priority}`];
  if (rule.invert) parts.push('not');
  if (rule.dst) parts.push(`to ${rule.dst}`);
  if (rule.fwmark !== undefined) {
    const mask = rule.fwmask !== undefined && rule.fwmask !== 0xffffffff ? `/${hex(rule.fwmask)}` : '';
    parts.push(`fwmark ${hex(rule.fwmark)}${mask}`);
  }
  if (rule.iif) parts.push(`iif ${rule.iif}`);
  if (rule.uidRange) parts.push(`uidrange ${rule.uidRange.start}-${rule.uidRange.end}`);
  if (rule.action === 'goto') parts.push(`goto ${rule.goto}`);
  else if (rule.action === 'nop') parts.push('nop');
  else parts.push(`lookup ${tableName(rule.table)}`);
  if (rule.suppressPrefixLength !== undefined)
    parts.push(`suppress_prefixlength ${rule.suppressPrefixLength}`);
  return parts.join(' ');
}

/** One step as an iproute2 command: `add` when applied, `del` when undone. */
export function describeStep(step: AutoRouteStep, direction: 'apply' | 'undo' = 'apply'): string {
  const verb = direction === 'apply' ? 'add' : 'del';
  if (step.kind === 'rule') return `ip -${step.rule.family} rule ${verb} ${ruleText(step.rule)}`;
  const r = step.route;
  const dst = r.prefixLength === 0 ? 'default' : r.dst;
  const where = `table ${tableName(r.table)} proto ${r.protocol}`;
  if (r.unreachable) return `ip -${r.family} route ${verb} unreachable ${dst} ${where} metric ${r.metric}`;
  return `ip -${r.family} route ${verb} ${dst} dev ${r.dev} ${where}`;
}

/** The whole plan: the commands that apply it, in order, and those that undo it, in order. */
export function describeAutoRoute(plan: AutoRoutePlan): { apply: string[]; undo: string[] } {
  return {
    apply: plan.steps.map((s) => describeStep(s, 'apply')),
    undo: [...plan.steps].reverse().map((s) => describeStep(s, 'undo')),
  };
}
