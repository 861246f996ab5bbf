// Resident access receipts: which agencies read a resident's data, when, for
// which purpose and case (for the resident-service desk).
import { useState } from 'react';
import { Alert, Input, Table, Tag, Typography } from 'antd';
import { ApiError, gql } from '../api';
import { when } from '../hooks';
import { useT } from '../i18n';
import type { Receipt } from '../types';

export function Receipts() {
  const t = useT();
  const [rows, setRows] = useState<Receipt[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const search = async (residentId: string) => {
    const id = residentId.trim();
    if (!id) return;
    setLoading(true);
    try {
      const d = await gql<{ receipts: Receipt[] }>(
        `query R($id: ID!) { receipts(residentId: $id) { time agency purpose caseNumber officer fields } }`,
        { id },
      );
      setRows(d.receipts);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String(e), 'NETWORK', 0));
    } finally {
      setLoading(false);
    }
  };
  return (
    <>
      <Typography.Paragraph type="secondary">{t('receiptsHint')}</Typography.Paragraph>
      <Input.Search
        placeholder={t('residentId')}
        enterButton={t('search')}
        onSearch={search}
        loading={loading}
        style={{ width: 420, marginBottom: 12 }}
        data-testid="receipt-resident"
      />
      {error && <Alert type="error" showIcon message={`${error.code}: ${error.message}`} style={{ marginBottom: 12 }} />}
      {rows && (
        <Table<Receipt>
          size="small"
          rowKey={(r, i) => `${r.time}-${i}`}
          dataSource={rows}
          pagination={{ pageSize: 50, hideOnSinglePage: true }}
          data-testid="receipts"
          columns={[
            { title: t('time'), dataIndex: 'time', render: when },
            { title: t('agency'), dataIndex: 'agency' },
            { title: t('purpose'), dataIndex: 'purpose' },
            { title: t('caseNumber'), dataIndex: 'caseNumber' },
            { title: t('officer'), dataIndex: 'officer' },
            { title: t('fields'), dataIndex: 'fields', render: (f: string[]) => f.map((x) => <Tag key={x}>{x}</Tag>) },
          ]}
        />
      )}
    </>
  );
}
