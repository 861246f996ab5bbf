// Sharing applications (共享申请) for conditional items: file one; the owning
// department's steward acknowledges and answers with written reasons; deadlines
// in working days and overdue flags as the hub computes them.
import { useState } from 'react';
import { Alert, AutoComplete, Button, Form, Input, InputNumber, Modal, Radio, Select, Space, Table, Tag, Tooltip } from 'antd';
import { ExclamationCircleOutlined } from '@ant-design/icons';
import { can, gql } from '../api';
import { useAction, useQuery, when } from '../hooks';
import { useT, useWord } from '../i18n';
import { useSession } from '../session';
import type { ApplicationState, CatalogField, SharingApplication } from '../types';
import { CATALOG_QUERY } from './Catalog';
import { STATE_COLOR } from './Drafts';

const APP_FIELDS = `id agency officer role purpose fields basis scope durationDays owner state submittedAt
  acknowledgeBy answerBy acknowledgedAt answeredAt answeredBy reasons overdue grantId`;

interface FileForm {
  purpose: string;
  role: string;
  fields: string[];
  basis: string;
  scope: string;
  durationDays: number;
}

export function Applications() {
  const t = useT();
  const w = useWord();
  const session = useSession();
  const act = useAction();
  const [state, setState] = useState<ApplicationState | undefined>();
  const list = useQuery<{ applications: SharingApplication[] }>(
    `query Apps($state: ApplicationState) { applications(state: $state) { ${APP_FIELDS} } }`,
    { state: state ?? null },
    [state],
  );
  const catalog = useQuery<{ catalog: CatalogField[] }>(CATALOG_QUERY, undefined, []);
  const purposes = useQuery<{ purposes: string[] }>(`query P($a: String) { purposes(agency: $a) }`, { a: session.agency }, []);
  const [filing, setFiling] = useState(false);
  const [answering, setAnswering] = useState<SharingApplication | null>(null);
  const steward = can(session, 'data_steward', 'platform_admin');

  const mutate = async <T,>(query: string, vars: Record<string, unknown>, ok: string) => {
    const r = await act(() => gql<T>(query, vars), ok);
    if (r) list.reload();
    return r;
  };

  return (
    <>
      {list.error && <Alert type="error" showIcon message={`${list.error.code}: ${list.error.message}`} style={{ marginBottom: 12 }} />}
      <Space style={{ marginBottom: 12 }} wrap>
        <Button type="primary" onClick={() => setFiling(true)} data-testid="file-application">
          {t('fileApplication')}
        </Button>
        <Select
          allowClear
          placeholder={t('state')}
          style={{ width: 160 }}
          value={state}
          onChange={setState}
          options={(['SUBMITTED', 'ACKNOWLEDGED', 'APPROVED', 'REFUSED', 'WITHDRAWN'] as const).map((s) => ({ value: s, label: w(s) }))}
        />
        <Button onClick={list.reload}>{t('refresh')}</Button>
      </Space>
      <Table<SharingApplication>
        size="small"
        rowKey="id"
        loading={list.loading}
        dataSource={list.data?.applications ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        data-testid="applications"
        rowClassName={(a) => (a.overdue ? 'overdue-row' : '')}
        expandable={{
          expandedRowRender: (a) => (
            <div>
              <div>
                {t('basis')}: {a.basis}
              </div>
              <div>
                {t('scope')}: {a.scope} · {t('durationDays')}: {a.durationDays}
              </div>
              {a.reasons && (
                <div>
                  {t('reasons')}: {a.reasons} ({a.answeredBy}, {when(a.answeredAt)})
                </div>
              )}
              {a.grantId && (
                <div>
                  {t('grants')}: <span className="mono">{a.grantId}</span>
                </div>
              )}
            </div>
          ),
        }}
        columns={[
          { title: 'ID', dataIndex: 'id', render: (v: string) => <span className="mono">{v}</span> },
          { title: t('agency'), dataIndex: 'agency', render: (v: string) => <span className="nowrap">{v}</span> },
          { title: t('applicant'), dataIndex: 'officer' },
          { title: t('role'), dataIndex: 'role' },
          { title: t('purpose'), dataIndex: 'purpose' },
          {
            title: t('fields'),
            dataIndex: 'fields',
            render: (f: string[]) => f.map((x) => <Tag key={x}>{x}</Tag>),
          },
          { title: t('owner'), dataIndex: 'owner' },
          {
            title: t('state'),
            dataIndex: 'state',
            render: (s: string, a) => (
              <Space size={4} data-testid={`app-state-${a.id}`}>
                <Tag color={STATE_COLOR[s]}>{w(s)}</Tag>
                {a.overdue && (
                  <Tag color="red" icon={<ExclamationCircleOutlined />} data-testid={`overdue-${a.id}`}>
                    {t('overdue')}
                  </Tag>
                )}
              </Space>
            ),
          },
          { title: t('submittedAt'), dataIndex: 'submittedAt', render: (v: string) => <span className="nowrap">{when(v)}</span> },
          {
            title: t('acknowledgeBy'),
            dataIndex: 'acknowledgeBy',
            render: (v: string, a) => <Deadline at={v} done={a.acknowledgedAt} />,
          },
          {
            title: t('answerBy'),
            dataIndex: 'answerBy',
            render: (v: string, a) => <Deadline at={v} done={a.answeredAt} />,
          },
          {
            title: t('action'),
            key: 'action',
            render: (_, a) =>
              steward && (a.state === 'SUBMITTED' || a.state === 'ACKNOWLEDGED') ? (
                <Space>
                  {a.state === 'SUBMITTED' && (
                    <Button
                      size="small"
                      data-testid={`acknowledge-${a.id}`}
                      onClick={() => mutate(`mutation Ack($id: ID!) { acknowledgeApplication(id: $id) { id state } }`, { id: a.id }, t('acknowledged'))}
                    >
                      {t('acknowledge')}
                    </Button>
                  )}
                  <Button size="small" type="primary" onClick={() => setAnswering(a)} data-testid={`answer-${a.id}`}>
                    {t('answer')}
                  </Button>
                </Space>
              ) : null,
          },
        ]}
      />
      <Modal open={filing} title={t('fileApplication')} footer={null} onCancel={() => setFiling(false)} destroyOnClose width={640}>
        <Form<FileForm>
          layout="vertical"
          initialValues={{ durationDays: 30 }}
          onFinish={async (v) => {
            const r = await mutate(
              `mutation Apply($purpose: String!, $fields: [String!]!, $basis: String!, $scope: String!, $durationDays: Int!, $role: String!) {
                applyForSharing(purpose: $purpose, fields: $fields, basis: $basis, scope: $scope, durationDays: $durationDays, role: $role) { id } }`,
              { ...v },
              t('filed'),
            );
            if (r) setFiling(false);
          }}
        >
          <Form.Item name="purpose" label={t('purpose')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <AutoComplete
              options={(purposes.data?.purposes ?? []).map((p) => ({ value: p }))}
              filterOption={(input, o) => (o?.value ?? '').includes(input)}
              data-testid="apply-purpose"
            />
          </Form.Item>
          <Form.Item name="role" label={t('role')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input data-testid="apply-role" />
          </Form.Item>
          <Form.Item name="fields" label={t('fields')} rules={[{ required: true, message: t('required') }]}>
            <Select
              mode="multiple"
              showSearch
              data-testid="apply-fields"
              options={(catalog.data?.catalog ?? []).map((c) => ({
                value: c.object,
                label: `${c.object} · ${w(c.shareClass)} · ${c.owner}`,
                disabled: c.shareClass === 'NOT_SHARED',
              }))}
            />
          </Form.Item>
          <Form.Item name="basis" label={t('basis')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input data-testid="apply-basis" />
          </Form.Item>
          <Form.Item name="scope" label={t('scope')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input data-testid="apply-scope" />
          </Form.Item>
          <Form.Item name="durationDays" label={t('durationDays')} rules={[{ required: true, message: t('required') }]}>
            <InputNumber min={1} max={365} data-testid="apply-duration" />
          </Form.Item>
          <Button type="primary" htmlType="submit" data-testid="apply-submit">
            {t('submit')}
          </Button>
        </Form>
      </Modal>
      <Modal open={answering !== null} title={t('answer')} footer={null} onCancel={() => setAnswering(null)} destroyOnClose>
        <Form<{ approve: boolean; reasons: string }>
          layout="vertical"
          initialValues={{ approve: true }}
          onFinish={async (v) => {
            const r = await mutate(
              `mutation Answer($id: ID!, $approve: Boolean!, $reasons: String!) {
                answerApplication(id: $id, approve: $approve, reasons: $reasons) { id state } }`,
              { id: answering?.id, approve: v.approve, reasons: v.reasons },
              t('answered'),
            );
            if (r) setAnswering(null);
          }}
        >
          <Form.Item name="approve" label={t('decision')}>
            <Radio.Group data-testid="answer-decision">
              <Radio value={true}>{t('answerApprove')}</Radio>
              <Radio value={false}>{t('answerRefuse')}</Radio>
            </Radio.Group>
          </Form.Item>
          <Form.Item name="reasons" label={t('reasons')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input.TextArea rows={3} data-testid="answer-reasons" />
          </Form.Item>
          <Button type="primary" htmlType="submit" data-testid="answer-submit">
            {t('submit')}
          </Button>
        </Form>
      </Modal>
    </>
  );
}

function Deadline({ at, done }: { at: string; done: string | null }) {
  const t = useT();
  const late = !done && Date.parse(at) < Date.now();
  return (
    <Tooltip title={done ? when(done) : undefined}>
      <span className="nowrap" style={{ color: late ? '#cf1322' : done ? '#8c8c8c' : undefined }}>
        {when(at)}
        {late ? ` (${t('overdue')})` : ''}
      </span>
    </Tooltip>
  );
}
