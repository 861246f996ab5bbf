// Time-boxed grants: from approved applications and break-glass. The platform
// admin issues a break-glass grant for a stated incident (at most 72 hours); its
// after-review stays overdue until an approver signs it off.
import { useState } from 'react';
import { Alert, Button, Form, Input, InputNumber, Modal, Select, Space, Switch, Table, Tag } from 'antd';
import { can, gql } from '../api';
import { useAction, useQuery, when } from '../hooks';
import { useT, useWord } from '../i18n';
import { useSession } from '../session';
import type { CatalogField, Grant } from '../types';
import { CATALOG_QUERY } from './Catalog';

export function Grants() {
  const t = useT();
  const w = useWord();
  const session = useSession();
  const act = useAction();
  const [activeOnly, setActiveOnly] = useState(true);
  const list = useQuery<{ grants: Grant[] }>(
    `query Grants($activeOnly: Boolean!) { grants(activeOnly: $activeOnly) {
      id kind agency role purpose fields scope issuedBy startsAt expiresAt expired incident reviewDueAt reviewedBy reviewedAt reviewOverdue } }`,
    { activeOnly },
    [activeOnly],
  );
  const [glass, setGlass] = useState(false);
  const [review, setReview] = useState<Grant | null>(null);
  const admin = can(session, 'platform_admin');
  const reviewer = can(session, 'policy_approver', 'platform_admin');

  return (
    <>
      {list.error && <Alert type="error" showIcon message={`${list.error.code}: ${list.error.message}`} style={{ marginBottom: 12 }} />}
      <Space style={{ marginBottom: 12 }} wrap>
        {admin && (
          <Button danger type="primary" onClick={() => setGlass(true)} data-testid="break-glass">
            {t('breakGlass')}
          </Button>
        )}
        <Space>
          <Switch checked={activeOnly} onChange={setActiveOnly} />
          {t('activeOnly')}
        </Space>
        <Button onClick={list.reload}>{t('refresh')}</Button>
      </Space>
      <Table<Grant>
        size="small"
        rowKey="id"
        loading={list.loading}
        dataSource={list.data?.grants ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        data-testid="grants"
        columns={[
          { title: 'ID', dataIndex: 'id', render: (v: string) => <span className="mono">{v}</span> },
          { title: t('kind'), dataIndex: 'kind', render: (k: string) => <Tag color={k === 'BREAK_GLASS' ? 'red' : 'blue'}>{w(k)}</Tag> },
          { title: t('agency'), dataIndex: 'agency' },
          { title: t('role'), dataIndex: 'role' },
          { title: t('purpose'), dataIndex: 'purpose' },
          { title: t('fields'), dataIndex: 'fields', render: (f: string[]) => f.map((x) => <Tag key={x}>{x}</Tag>) },
          { title: t('scope'), dataIndex: 'scope' },
          { title: t('issuedBy'), dataIndex: 'issuedBy' },
          { title: t('startsAt'), dataIndex: 'startsAt', render: when },
          {
            title: t('expiresAtCol'),
            dataIndex: 'expiresAt',
            render: (v: string, g) => (
              <Space size={4}>
                {when(v)}
                <Tag color={g.expired ? 'default' : 'green'} data-testid={`grant-state-${g.id}`}>
                  {g.expired ? t('expired') : t('active')}
                </Tag>
              </Space>
            ),
          },
          {
            title: t('review'),
            key: 'review',
            render: (_, g) =>
              g.kind !== 'BREAK_GLASS' ? null : g.reviewedBy ? (
                <span>
                  {g.reviewedBy} · {when(g.reviewedAt)}
                </span>
              ) : (
                <Space size={4} direction="vertical">
                  {g.incident && <span>{t('incident')}: {g.incident}</span>}
                  <span>
                    {t('reviewDueAt')}: {when(g.reviewDueAt)}{' '}
                    {g.reviewOverdue && <Tag color="red">{t('reviewOverdue')}</Tag>}
                  </span>
                  {reviewer && (
                    <Button size="small" onClick={() => setReview(g)} data-testid={`sign-off-${g.id}`}>
                      {t('signOff')}
                    </Button>
                  )}
                </Space>
              ),
          },
        ]}
      />
      <Modal open={glass} title={t('breakGlass')} footer={null} onCancel={() => setGlass(false)} destroyOnClose width={640}>
        <BreakGlassForm
          onDone={() => {
            setGlass(false);
            list.reload();
          }}
        />
      </Modal>
      <Modal open={review !== null} title={t('signOff')} footer={null} onCancel={() => setReview(null)} destroyOnClose>
        <Form
          layout="vertical"
          onFinish={async (v: { note: string }) => {
            const r = await act(
              () => gql(`mutation S($id: ID!, $note: String!) { signOffReview(grantId: $id, note: $note) { id } }`, { id: review?.id, note: v.note }),
              t('done'),
            );
            if (r) {
              setReview(null);
              list.reload();
            }
          }}
        >
          <Form.Item name="note" label={t('note')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input.TextArea rows={3} />
          </Form.Item>
          <Button type="primary" htmlType="submit">
            {t('signOff')}
          </Button>
        </Form>
      </Modal>
    </>
  );
}

function BreakGlassForm({ onDone }: { onDone: () => void }) {
  const t = useT();
  const act = useAction();
  const lists = useQuery<{ agencies: string[] }>(`query A { agencies }`, undefined, []);
  const catalog = useQuery<{ catalog: CatalogField[] }>(CATALOG_QUERY, undefined, []);
  return (
    <Form
      layout="vertical"
      initialValues={{ hours: 24 }}
      onFinish={async (v: { agency: string; role: string; purpose: string; fields: string[]; incident: string; hours: number }) => {
        const r = await act(
          () =>
            gql(
              `mutation BG($agency: String!, $role: String!, $purpose: String!, $fields: [String!]!, $incident: String!, $hours: Int!) {
                breakGlass(agency: $agency, role: $role, purpose: $purpose, fields: $fields, incident: $incident, hours: $hours) { id } }`,
              v,
            ),
          t('done'),
        );
        if (r) onDone();
      }}
    >
      <Form.Item name="agency" label={t('agency')} rules={[{ required: true, message: t('required') }]}>
        <Select showSearch options={(lists.data?.agencies ?? []).map((a) => ({ value: a, label: a }))} />
      </Form.Item>
      <Form.Item name="role" label={t('role')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
        <Input />
      </Form.Item>
      <Form.Item name="purpose" label={t('purpose')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
        <Input />
      </Form.Item>
      <Form.Item name="fields" label={t('fields')} rules={[{ required: true, message: t('required') }]}>
        <Select mode="multiple" showSearch options={(catalog.data?.catalog ?? []).map((c) => ({ value: c.object, label: c.object }))} />
      </Form.Item>
      <Form.Item name="incident" label={t('incident')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
        <Input.TextArea rows={2} />
      </Form.Item>
      <Form.Item name="hours" label={t('hours')} rules={[{ required: true, message: t('required') }]}>
        <InputNumber min={1} max={72} />
      </Form.Item>
      <Button type="primary" danger htmlType="submit">
        {t('submit')}
      </Button>
    </Form>
  );
}
