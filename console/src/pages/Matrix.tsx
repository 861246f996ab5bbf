// The agency × field matrix: each cell coloured by the grant (read / masked /
// none) and its column by the field's share class; the tooltip names role,
// purpose, mask, row scope and the policy lines that grant it. Shows the lists in
// force or a draft's (its effect before approval).
import { useMemo, useState } from 'react';
import { Alert, Select, Space, Table, Tooltip, Typography } from 'antd';
import { useQuery } from '../hooks';
import { useT, useWord } from '../i18n';
import type { Access, CatalogField, Draft, MatrixCell } from '../types';
import { CATALOG_QUERY } from './Catalog';

const RANK: Record<Access, number> = { READ: 2, MASKED: 1, NONE: 0 };

const MATRIX_QUERY = `query Matrix($agency: String, $purpose: String, $draftId: ID) {
  matrix(agency: $agency, purpose: $purpose, draftId: $draftId) {
    agency role purpose object access mask scope shareClass grantedBy
  }
}`;

interface Row {
  agency: string;
  cells: Record<string, MatrixCell[]>;
}

export function Matrix() {
  const t = useT();
  const w = useWord();
  const [agency, setAgency] = useState<string | undefined>();
  const [purpose, setPurpose] = useState<string | undefined>();
  const [source, setSource] = useState<string>('current'); // current | d:<id>

  const lists = useQuery<{ agencies: string[]; drafts: Draft[] }>(
    `query MatrixChoices { agencies drafts { id department state reason } }`,
    undefined,
    [],
  );
  const purposes = useQuery<{ purposes: string[] }>(
    `query Purposes($agency: String) { purposes(agency: $agency) }`,
    { agency: agency ?? null },
    [agency],
  );
  const catalog = useQuery<{ catalog: CatalogField[] }>(CATALOG_QUERY, undefined, []);
  const vars = {
    agency: agency ?? null,
    purpose: purpose ?? null,
    draftId: source.startsWith('d:') ? source.slice(2) : null,
  };
  const matrix = useQuery<{ matrix: MatrixCell[] }>(MATRIX_QUERY, vars, [agency, purpose, source]);

  const fields = catalog.data?.catalog ?? [];
  const rows: Row[] = useMemo(() => {
    const by = new Map<string, Row>();
    const agencies = agency ? [agency] : lists.data?.agencies ?? [];
    for (const a of agencies) by.set(a, { agency: a, cells: {} });
    for (const c of matrix.data?.matrix ?? []) {
      const row = by.get(c.agency) ?? { agency: c.agency, cells: {} };
      by.set(c.agency, row);
      (row.cells[c.object] ??= []).push(c);
    }
    return [...by.values()].sort((a, b) => a.agency.localeCompare(b.agency));
  }, [matrix.data, lists.data, agency]);

  const error = lists.error ?? catalog.error ?? matrix.error ?? purposes.error;
  const columns = [
    {
      title: t('agency'),
      dataIndex: 'agency',
      fixed: 'left' as const,
      width: 190,
      render: (v: string) => <b className="mono">{v}</b>,
    },
    ...fields.map((f) => ({
      key: f.object,
      width: 74,
      title: (
        <Tooltip title={`${f.object} · ${w(f.shareClass)} · ${f.owner} · ${f.sensitivity}`}>
          <div className={`class-${f.shareClass}`} style={{ fontSize: 11, lineHeight: 1.2, paddingTop: 2 }}>
            <div style={{ color: '#8c8c8c' }}>{f.type}</div>
            <div>{f.field}</div>
          </div>
        </Tooltip>
      ),
      render: (_: unknown, row: Row) => <Cell cells={row.cells[f.object] ?? []} field={f} agency={row.agency} />,
    })),
  ];

  return (
    <>
      {error && <Alert type="error" showIcon message={`${error.code}: ${error.message}`} style={{ marginBottom: 12 }} />}
      <Space wrap style={{ marginBottom: 12 }}>
        <Select
          allowClear
          showSearch
          placeholder={t('allAgencies')}
          style={{ width: 220 }}
          value={agency}
          onChange={(v) => {
            setAgency(v);
            setPurpose(undefined);
          }}
          options={(lists.data?.agencies ?? []).map((a) => ({ value: a, label: a }))}
          data-testid="matrix-agency"
        />
        <Select
          allowClear
          showSearch
          placeholder={t('allPurposes')}
          style={{ width: 220 }}
          value={purpose}
          onChange={setPurpose}
          options={(purposes.data?.purposes ?? []).map((p) => ({ value: p, label: p }))}
          data-testid="matrix-purpose"
        />
        <Select
          style={{ width: 300 }}
          value={source}
          onChange={setSource}
          options={[
            { value: 'current', label: t('inForce') },
            ...(lists.data?.drafts ?? [])
              .filter((d) => d.state === 'EDITING' || d.state === 'PROPOSED')
              .map((d) => ({ value: `d:${d.id}`, label: `${t('draft')} ${d.id} · ${d.department} · ${w(d.state)}` })),
          ]}
        />
      </Space>
      <Legend />
      <Table<Row>
        size="small"
        bordered
        loading={matrix.loading || catalog.loading}
        rowKey="agency"
        dataSource={rows}
        columns={columns}
        pagination={false}
        scroll={{ x: 190 + fields.length * 74 }}
        data-testid="matrix"
      />
    </>
  );
}

function Cell({ cells, field, agency }: { cells: MatrixCell[]; field: CatalogField; agency: string }) {
  const t = useT();
  const w = useWord();
  const best = cells.reduce<Access>((acc, c) => (RANK[c.access] > RANK[acc] ? c.access : acc), 'NONE');
  const granted = cells.filter((c) => c.access !== 'NONE');
  const tip = (
    <div style={{ maxWidth: 420 }}>
      <div>
        <b>{agency}</b> · <span className="mono">{field.object}</span>
      </div>
      <div>
        {t('shareClass')}: {w(field.shareClass)} · {t('owner')}: {field.owner}
      </div>
      {granted.length === 0 && <div>{w('NONE')}</div>}
      {granted.map((c, i) => (
        <div key={i} style={{ marginTop: 4 }}>
          {c.role} / {c.purpose}: <b>{w(c.access)}</b>
          {c.mask ? ` (${t('mask')}: ${c.mask})` : ''}
          {c.scope ? (
            <div>
              {t('scope')}: {c.scope}
            </div>
          ) : null}
          {c.grantedBy.length > 0 && (
            <div>
              {t('grantedBy')}: <span className="mono">{c.grantedBy.join(', ')}</span>
            </div>
          )}
        </div>
      ))}
    </div>
  );
  return (
    <Tooltip title={tip}>
      <div
        className={`matrix-cell access-${best} class-${field.shareClass}`}
        data-testid={`cell-${agency}-${field.object}`}
        data-access={best}
      >
        {best === 'NONE' ? '·' : w(best)}
      </div>
    </Tooltip>
  );
}

export function Legend() {
  const t = useT();
  const w = useWord();
  return (
    <Space wrap size="large" style={{ marginBottom: 12 }}>
      <Typography.Text type="secondary">{t('legend')}:</Typography.Text>
      {(['READ', 'MASKED', 'NONE'] as const).map((a) => (
        <span key={a}>
          <span className={`legend-swatch access-${a}`} />
          {w(a)}
        </span>
      ))}
      {(['UNCONDITIONAL', 'CONDITIONAL', 'NOT_SHARED'] as const).map((c) => (
        <span key={c}>
          <span className={`legend-swatch class-${c}`} style={{ background: '#fafafa' }} />
          {w(c)}
        </span>
      ))}
    </Space>
  );
}
