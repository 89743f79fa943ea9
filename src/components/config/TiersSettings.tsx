import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { Button, Combobox, IconButton, InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack, Text } from '@grafana/ui';

import { DEFAULT_TIER_RULES } from '../../defaults';
import { Tier, TierRule } from '../../types';
import { validateGoRegex } from '../../validation';
import { ConfigProps, setJsonData } from './helpers';

const TIER_OPTIONS: Array<{ label: string; value: Tier }> = (
  ['proxy', 'go', 'rails', 'mysql', 'redis', 'other'] as const
).map((t) => ({ label: t, value: t }));

type MatchKind = 'value' | 'regex';
const MATCH_KIND_OPTIONS: Array<{ label: string; value: MatchKind }> = [
  { label: 'equals', value: 'value' },
  { label: 'matches regex', value: 'regex' },
];

const NEW_RULE: TierRule = { tier: 'other', match: { attribute: 'service.name', value: '' } };

/** cloneRules copies rules so editing never mutates DEFAULT_TIER_RULES. */
function cloneRules(rules: readonly TierRule[]): TierRule[] {
  return rules.map((r) => ({ tier: r.tier, match: { ...r.match } }));
}

/**
 * TiersSettings edits the rules that assign each span a tier of the timeline
 * (proxy, go, rails, mysql, redis, other). Without rules the defaults apply,
 * and are shown read-only until the user customises them.
 */
export function TiersSettings(props: ConfigProps) {
  const configured = props.options.jsonData.tiers;
  const custom = configured !== undefined && configured.length > 0;
  const rules = custom ? configured : DEFAULT_TIER_RULES;
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
        description="Each span gets the tier of the first rule that matches it; the attribute is looked up on the span, then on its resource. Unmatched spans are 'other'."
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
  readOnly: boolean;
  isFirst: boolean;
  isLast: boolean;
  onChange: (rule: TierRule) => void;
  onMove: (delta: number) => void;
  onRemove: () => void;
}

function RuleRow({ index, rule, readOnly, isFirst, isLast, onChange, onMove, onRemove }: RuleRowProps) {
  const id = (name: string) => `tier-rule-${index}-${name}`;
  const kind: MatchKind = rule.match.regex !== undefined && rule.match.value === undefined ? 'regex' : 'value';
  const pattern = (kind === 'regex' ? rule.match.regex : rule.match.value) ?? '';
  const attributeError = rule.match.attribute.trim() === '' ? 'Attribute is required' : undefined;
  const patternError =
    pattern === '' ? 'A value or regex is required' : kind === 'regex' ? validateGoRegex(pattern) : undefined;
  const setMatch = (k: MatchKind, p: string) =>
    onChange({ ...rule, match: { attribute: rule.match.attribute, ...(k === 'regex' ? { regex: p } : { value: p }) } });

  return (
    <InlineFieldRow role="group" aria-label={`Tier rule ${index + 1}`}>
      <InlineField label="Tier" labelWidth={8} tooltip="The tier spans matching this rule get." disabled={readOnly}>
        <Combobox<Tier>
          id={id('tier')}
          width={14}
          options={TIER_OPTIONS}
          value={rule.tier}
          onChange={(v) => onChange({ ...rule, tier: v.value })}
        />
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
