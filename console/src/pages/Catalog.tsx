// The catalog: every field with its owner, sensitivity and share class.
import { useMemo, useState } from 'react';
import { Alert, Input, Table, Tag } from 'antd';
import { useQuery } from '../hooks';
import { useT, useWord } from '../i18n';
import type { CatalogField, ShareClass } from '../types';

export const CLASS_COLOR: Record<ShareClass, string> = {
  UNCONDITIONAL: 'blue',
  CONDITIONAL: 'orange',
  NOT_SHARED: 'red',
};

export const CATALOG_QUERY = `query Catalog { catalog { type field object owner sensitivity shareClass description } }`;

export function Catalog() {
  const t = useT();
  const w = useWord();
  const { data, error, loading } = useQuery<{ catalog: CatalogField[] }>(CATALOG_QUERY, undefined, []);
  const [filter, setFilter] = useState('');
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (data?.catalog ?? []).filter(
      (c) => !f || `${c.object} ${c.owner} ${c.description ?? ''}`.toLowerCase().includes(f),
    );
  }, [data, filter]);
  return (
    <>
      {error && <Alert type="error" showIcon message={`${error.code}: ${error.message}`} style={{ marginBottom: 12 }} />}
      <Input.Search
        allowClear
        placeholder={t('search')}
        onChange={(e) => setFilter(e.target.value)}
        style={{ width: 320, marginBottom: 12 }}
      />
      <Table<CatalogField>
        size="small"
        loading={loading}
        rowKey="object"
        dataSource={rows}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        data-testid="catalog"
        columns={[
          { title: t('object'), dataIndex: 'object', render: (v: string) => <span className="mono">{v}</span> },
          { title: t('owner'), dataIndex: 'owner', filters: uniq(rows.map((r) => r.owner)), onFilter: (v, r) => r.owner === v },
          { title: t('sensitivity'), dataIndex: 'sensitivity' },
          {
            title: t('shareClass'),
            dataIndex: 'shareClass',
            render: (v: ShareClass) => <Tag color={CLASS_COLOR[v]}>{w(v)}</Tag>,
            filters: (['UNCONDITIONAL', 'CONDITIONAL', 'NOT_SHARED'] as const).map((c) => ({ text: w(c), value: c })),
            onFilter: (v, r) => r.shareClass === v,
          },
          { title: t('description'), dataIndex: 'description' },
        ]}
      />
    </>
  );
}

export function uniq(values: string[]) {
  return [...new Set(values)].sort().map((v) => ({ text: v, value: v }));
}
