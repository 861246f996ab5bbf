// Version history: every published version with author, approver, reason and
// legal basis; a version's files; roll back to any earlier version.
import { useState } from 'react';
import { Alert, Button, Form, Input, Modal, Select, Space, Table, Tag } from 'antd';
import { can, gql } from '../api';
import { useAction, useQuery, when } from '../hooks';
import { useT } from '../i18n';
import { useSession } from '../session';
import type { PolicyVersion } from '../types';

export function Versions() {
  const t = useT();
  const session = useSession();
  const act = useAction();
  const list = useQuery<{ versions: PolicyVersion[] }>(
    `query Versions { versions { number publishedAt author approver reason basis draftId rollbackOf current files } }`,
    undefined,
    [],
  );
  const [rollbackTo, setRollbackTo] = useState<number | null>(null);
  const [viewing, setViewing] = useState<PolicyVersion | null>(null);
  const mayRollBack = can(session, 'policy_approver', 'platform_admin');

  return (
    <>
      {list.error && <Alert type="error" showIcon message={`${list.error.code}: ${list.error.message}`} style={{ marginBottom: 12 }} />}
      <Button onClick={list.reload} style={{ marginBottom: 12 }}>
        {t('refresh')}
      </Button>
      <Table<PolicyVersion>
        size="small"
        rowKey="number"
        loading={list.loading}
        dataSource={[...(list.data?.versions ?? [])].sort((a, b) => b.number - a.number)}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        data-testid="versions"
        columns={[
          {
            title: t('version'),
            dataIndex: 'number',
            render: (n: number, v) => (
              <Space>
                <b>{n}</b>
                {v.current && <Tag color="green">{t('current')}</Tag>}
                {v.rollbackOf != null && <Tag color="purple">{t('rollbackOf', { n: v.rollbackOf })}</Tag>}
              </Space>
            ),
          },
          { title: t('publishedAt'), dataIndex: 'publishedAt', render: when },
          { title: t('author'), dataIndex: 'author' },
          { title: t('approver'), dataIndex: 'approver' },
          { title: t('reason'), dataIndex: 'reason' },
          { title: t('basis'), dataIndex: 'basis' },
          {
            title: t('action'),
            key: 'action',
            render: (_, v) => (
              <Space>
                <Button size="small" onClick={() => setViewing(v)}>
                  {t('viewText')}
                </Button>
                {mayRollBack && !v.current && (
                  <Button size="small" danger onClick={() => setRollbackTo(v.number)} data-testid={`rollback-${v.number}`}>
                    {t('rollback')}
                  </Button>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal open={rollbackTo !== null} title={`${t('rollback')}: ${rollbackTo ?? ''}`} footer={null} onCancel={() => setRollbackTo(null)} destroyOnClose>
        <Form
          layout="vertical"
          onFinish={async (v: { reason: string }) => {
            const r = await act(
              () =>
                gql<{ rollback: PolicyVersion }>(`mutation Rb($to: Int!, $reason: String!) { rollback(toVersion: $to, reason: $reason) { number } }`, {
                  to: rollbackTo,
                  reason: v.reason,
                }),
              (r) => t('rollbackDone', { n: r.rollback.number }),
            );
            if (r) {
              setRollbackTo(null);
              list.reload();
            }
          }}
        >
          <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input.TextArea rows={3} data-testid="rollback-reason" />
          </Form.Item>
          <Button type="primary" danger htmlType="submit" data-testid="rollback-submit">
            {t('rollback')}
          </Button>
        </Form>
      </Modal>
      <Modal open={viewing !== null} title={`${t('version')} ${viewing?.number ?? ''}`} footer={null} onCancel={() => setViewing(null)} width={960} destroyOnClose>
        {viewing && <VersionText version={viewing} />}
      </Modal>
    </>
  );
}

function VersionText({ version }: { version: PolicyVersion }) {
  const [file, setFile] = useState(version.files[0]);
  const text = useQuery<{ version: { text: string | null } | null }>(
    `query VText($n: Int, $file: String!) { version(number: $n) { text(file: $file) } }`,
    { n: version.number, file },
    [version.number, file],
  );
  return (
    <>
      <Select value={file} onChange={setFile} options={version.files.map((f) => ({ value: f, label: f }))} style={{ width: 320, marginBottom: 8 }} />
      {text.error && <Alert type="error" showIcon message={`${text.error.code}: ${text.error.message}`} />}
      <pre className="mono" style={{ maxHeight: 480, overflow: 'auto', background: '#fafafa', padding: 8 }}>
        {text.data?.version?.text ?? ''}
      </pre>
    </>
  );
}
