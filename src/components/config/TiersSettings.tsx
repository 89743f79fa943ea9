import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { Button, IconButton, InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack, Text } from '@grafana/ui';

import { DEFAULT_TIER_RULES } from '../../defaults';
import { TierRule } from '../../types';
import {
  TierConflict,
  tierConflicts,
  validateGoRegex,
  validateTierColor,
  validateTierName,
  validateTierOrder,
} from '../../validation';
import { ConfigProps, setJsonData } from './helpers';

type MatchKind = 'value' | 'regex';
const MATCH_KIND_OPTIONS: Array<{ label: string; value: MatchKind }> = [
  { label: 'equals', value: 'value' },
  { label: 'matches regex', value: 'regex' },
];

const NEW_RULE: TierRule = { tier: 'other', match: { attribute: 'service.name', value: '' } };

/** cloneRules copies rules so editing never mutates DEFAULT_TIER_RULES. */
function cloneRules(rules: readonly TierRule[]): TierRule[] {
  return rules.map((r) => ({ ...r, match: { ...r.match } }));
}

/** withStyle sets (or, when empty, removes) a rule's optional order or colour. */
function withStyle(rule: TierRule, key: 'order' | 'color', value: number | string | undefined): TierRule {
  const next: TierRule = { ...rule };
  if (value === undefined || value === '') {
    delete next[key];
  } else if (key === 'order') {
    next.order = Number(value);
  } else {
    next.color = String(value);
  }
  return next;
}

/**
 * TiersSettings edits the rules that assign each span a tier of the timeline.
 * Tier names are the user's own (edge, checkout-api, datastore…), each rule
 * may give its tier an order (the summary's row order) and a colour, which
 * rules of one tier share. Without rules the defaults apply (proxy, go,
 * rails, mysql, redis), shown read-only until the user customises them.
 */
export function TiersSettings(props: ConfigProps) {
  const configured = props.options.jsonData.tiers;
  const custom = configured !== undefined && configured.length > 0;
  const rules = custom ? configured : DEFAULT_TIER_RULES;
  const conflicts = tierConflicts(rules);
  const setRules = (next: TierRule[] | undefined) => setJsonData(props, 'tiers', next);
  const update = (i: number, rule: TierRule) => setRules(rules.map((r, j) => (j === i ? rule : r)));
  const move = (i: number, delta: number) => {
    const next = cloneRules(rules);
    const [r] = next.splice(i, 1);
    next.splice(i + delta, 0, r);
    setRules(next);
  };

  return (
    <section aria-label="Tier settings">
      <ConfigSection
        title="Tiers"
        description="Each span gets the tier of the first rule that matches it; the attribute is looked up on the span, then on its resource. Unmatched spans are 'other'. Name tiers as you like; an order sorts the summary (lowest first, then tiers without one by first appearance) and a colour (a Grafana colour name or #rrggbb) marks the tier; rules of one tier share them."
        isCollapsible
        isInitiallyOpen={custom}
      >
        <Stack direction="column" gap={1}>
          {!custom && (
            <Text color="secondary" element="p">
              Default rules (used while no rules are configured):
            </Text>
          )}
          {rules.map((rule, i) => (
            <RuleRow
              key={i}
              index={i}
              rule={rule}
              conflict={conflicts[i]}
              readOnly={!custom}
              isFirst={i === 0}
              isLast={i === rules.length - 1}
              onChange={(r) => update(i, r)}
              onMove={(d) => move(i, d)}
              onRemove={() => setRules(rules.length > 1 ? rules.filter((_, j) => j !== i) : undefined)}
            />
          ))}
          <Stack direction="row" gap={1}>
            {custom ? (
              <>
                <Button
                  variant="secondary"
                  icon="plus"
                  size="sm"
                  type="button"
                  onClick={() => setRules([...cloneRules(rules), cloneRules([NEW_RULE])[0]])}
                >
                  Add rule
                </Button>
                <Button variant="secondary" icon="history" size="sm" type="button" onClick={() => setRules(undefined)}>
                  Reset to defaults
                </Button>
              </>
            ) : (
              <Button
                variant="secondary"
                icon="pen"
                size="sm"
                type="button"
                onClick={() => setRules(cloneRules(DEFAULT_TIER_RULES))}
              >
                Customize rules
              </Button>
            )}
          </Stack>
        </Stack>
      </ConfigSection>
    </section>
  );
}

interface RuleRowProps {
  index: number;
  rule: TierRule;
  conflict: TierConflict;
  readOnly: boolean;
  isFirst: boolean;
  isLast: boolean;
  onChange: (rule: TierRule) => void;
  onMove: (delta: number) => void;
  onRemove: () => void;
}

function RuleRow({ index, rule, conflict, readOnly, isFirst, isLast, onChange, onMove, onRemove }: RuleRowProps) {
  const id = (name: string) => `tier-rule-${index}-${name}`;
  const kind: MatchKind = rule.match.regex !== undefined && rule.match.value === undefined ? 'regex' : 'value';
  const pattern = (kind === 'regex' ? rule.match.regex : rule.match.value) ?? '';
  const attributeError = rule.match.attribute.trim() === '' ? 'Attribute is required' : undefined;
  const patternError =
    pattern === '' ? 'A value or regex is required' : kind === 'regex' ? validateGoRegex(pattern) : undefined;
  const tierError = validateTierName(rule.tier);
  const orderError = validateTierOrder(rule.order) ?? conflict.order;
  const colorError = validateTierColor(rule.color) ?? conflict.color;
  const setMatch = (k: MatchKind, p: string) =>
    onChange({ ...rule, match: { attribute: rule.match.attribute, ...(k === 'regex' ? { regex: p } : { value: p }) } });

  return (
    <InlineFieldRow role="group" aria-label={`Tier rule ${index + 1}`}>
      <InlineField
        label="Tier"
        labelWidth={8}
        tooltip="The tier spans matching this rule get: any name of your request path's layer (e.g. edge, checkout-api, datastore), at most 64 characters."
        invalid={!readOnly && Boolean(tierError)}
        error={tierError}
        disabled={readOnly}
      >
        <Input id={id('tier')} width={18} value={rule.tier} onChange={(e) => onChange({ ...rule, tier: e.currentTarget.value })} />
      </InlineField>
      <InlineField
        label="Attribute"
        labelWidth={12}
        tooltip="Attribute key, looked up on the span first, then on its resource (e.g. db.system, service.name, telemetry.sdk.language)."
        invalid={!readOnly && Boolean(attributeError)}
        error={attributeError}
        disabled={readOnly}
      >
        <Input
          id={id('attribute')}
          width={26}
          value={rule.match.attribute}
          onChange={(e) => onChange({ ...rule, match: { ...rule.match, attribute: e.currentTarget.value } })}
        />
      </InlineField>
      <InlineField
        label="Match"
        labelWidth={8}
        tooltip="equals: the attribute's value is exactly this. matches regex: a Go (RE2) regular expression, e.g. (?i)^redis."
        disabled={readOnly}
      >
        <RadioButtonGroup<MatchKind>
          options={MATCH_KIND_OPTIONS}
          value={kind}
          onChange={(k) => setMatch(k, pattern)}
        />
      </InlineField>
      <InlineField
        label={kind === 'regex' ? 'Regex' : 'Value'}
        labelWidth={8}
        tooltip={kind === 'regex' ? 'Go (RE2) regular expression; (?i) makes it case-insensitive.' : 'Exact value.'}
        invalid={!readOnly && Boolean(patternError)}
        error={patternError}
        disabled={readOnly}
      >
        <Input id={id('pattern')} width={30} value={pattern} onChange={(e) => setMatch(kind, e.currentTarget.value)} />
      </InlineField>
      <InlineField
        label="Order"
        labelWidth={8}
        tooltip="Optional: the tier's place in the summary, lowest first; tiers without an order follow by first appearance in the trace."
        invalid={!readOnly && Boolean(orderError)}
        error={orderError}
        disabled={readOnly}
      >
        <Input
          id={id('order')}
          type="number"
          width={8}
          value={rule.order ?? ''}
          onChange={(e) => onChange(withStyle(rule, 'order', e.currentTarget.value === '' ? undefined : e.currentTarget.valueAsNumber))}
        />
      </InlineField>
      <InlineField
        label="Color"
        labelWidth={8}
        tooltip="Optional: the tier's colour, a Grafana colour name (blue, dark-green, light-orange…) or #rrggbb."
        invalid={!readOnly && Boolean(colorError)}
        error={colorError}
        disabled={readOnly}
      >
        <Input
          id={id('color')}
          width={14}
          placeholder="e.g. blue"
          value={rule.color ?? ''}
          onChange={(e) => onChange(withStyle(rule, 'color', e.currentTarget.value))}
        />
      </InlineField>
      {!readOnly && (
        <Stack direction="row" gap={0.5} alignItems="center">
          <IconButton name="arrow-up" tooltip={`Move rule ${index + 1} up`} disabled={isFirst} onClick={() => onMove(-1)} />
          <IconButton
            name="arrow-down"
            tooltip={`Move rule ${index + 1} down`}
            disabled={isLast}
            onClick={() => onMove(1)}
          />
          <IconButton name="trash-alt" tooltip={`Remove rule ${index + 1}`} onClick={onRemove} />
        </Stack>
      )}
    </InlineFieldRow>
  );
}
