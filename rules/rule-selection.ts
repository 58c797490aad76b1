import type { DeviceInfo } from "./observation.js";
import type { RuleOverride, RuleSelect } from "./rule-schema.js";

/** Whether a rule watches a device, judged from what the device's observations say about it. */
export type DeviceSelector = (device: DeviceInfo | undefined) => boolean;

/** `WM-8*` → /^WM-8.*$/: `*` any run of characters, `?` one; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

function matchesAny(patterns: readonly RegExp[], value: string | undefined): boolean {
  return value !== undefined && patterns.some((p) => p.test(value));
}

function sharesTag(tags: ReadonlySet<string>, deviceTags: readonly string[] | undefined): boolean {
  return deviceTags !== undefined && deviceTags.some((t) => tags.has(t));
}

/**
 * Compiled once per rule version. A selector field the device does not report counts as a
 * mismatch: a rule meant for WM-8 washers must not run on a washer of unknown model.
 */
export function compileSelector(select: RuleSelect | undefined): DeviceSelector {
  if (!select) return () => true;
  const models = select.models?.map(globToRegExp);
  const firmware = select.firmware?.map(globToRegExp);
  const tags = select.customerTags && new Set(select.customerTags);
  return (device) =>
    (!models || matchesAny(models, device?.model)) &&
    (!firmware || matchesAny(firmware, device?.firmware)) &&
    (!tags || sharesTag(tags, device?.customerTags));
}

/** 0 for the rule as written, i + 1 for the first override whose tags the customer carries. */
export function chooseVariant(
  overrides: readonly Pick<RuleOverride, "tags">[],
  customerTags: readonly string[] | undefined,
): number {
  if (!customerTags || customerTags.length === 0) return 0;
  const index = overrides.findIndex((o) => o.tags.some((t) => customerTags.includes(t)));
  return index + 1;
}

/** Same model, firmware and tags: the engine re-selects rules for a device only when this fails. */
export function sameDeviceInfo(a: DeviceInfo | undefined, b: DeviceInfo | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.model !== b.model || a.firmware !== b.firmware) return false;
  const x = a.customerTags ?? [];
  const y = b.customerTags ?? [];
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
