// Drafts of a department's list: create, edit the text, revoke a grant, propose;
// the proposal's effect in plain words (which agencies gain or lose which
// fields, masks, row scopes, and how many residents each change touches) and its
// text differences; then approve (publishes) or reject. Buttons follow the
// officer's roles; the hub enforces them (two-person rule included).
import { useEffect, useState } from 'react';
import { Alert, App, Button, Card, Col, Descriptions, Empty, Form, Input, Modal, Row, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import { can, gql } from '../api';
import { useAction, useQuery, when } from '../hooks';
import { useT, useWord } from '../i18n';
import { useSession } from '../session';
import type { Change, Draft, DraftState, MatrixCell, PolicyVersion } from '../types';

/** What the list shows: no text, no diff (computing a draft's effect counts residents). */
const SUMMARY_FIELDS = `id department file baseVersion state author reason basis createdAt proposedAt
  decidedBy decidedAt note publishedVersion`;
/** One draft, with its text and its effect. */
const DRAFT_FIELDS = `${SUMMARY_FIELDS} text lines { added removed }
  changes { kind agency role purpose object before after residentsTouched }`;

type DraftSummary = Omit<Draft, 'text' | 'lines' | 'changes'>;

export const STATE_COLOR: Record<string, string> = {
  EDITING: 'blue',
  PROPOSED: 'gold',
  PUBLISHED: 'green',
  REJECTED: 'red',
  WITHDRAWN: 'default',
  SUBMITTED: 'blue',
  ACKNOWLEDGED: 'gold',
  APPROVED: 'green',
  REFUSED: 'red',
};

export function Drafts() {
  const t = useT();
  const w = useWord();
  const session = useSession();
  const act = useAction();
  const [state, setState] = useState<DraftState | undefined>();
  const list = useQuery<{ drafts: DraftSummary[] }>(
    `query Drafts($state: DraftState) { drafts(state: $state) { ${SUMMARY_FIELDS} } }`,
    { state: state ?? null },
    [state],
  );
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  const create = async (v: { department: string; reason: string; basis: string }) => {
    const r = await act(
      () => gql<{ createDraft: Draft }>(`mutation Create($department: String!, $reason: String!, $basis: String!) {
        createDraft(department: $department, reason: $reason, basis: $basis) { id } }`, v),
      t('done'),
    );
    if (r) {
      setCreating(false);
      setSelected(r.createDraft.id);
      list.reload();
    }
  };

  return (
    <Row gutter={16}>
      <Col span={9}>
        <Space style={{ marginBottom: 12 }} wrap>
          {can(session, 'policy_editor') && (
            <Button type="primary" onClick={() => setCreating(true)} data-testid="new-draft">
              {t('newDraft')}
            </Button>
          )}
          <Select
            allowClear
            placeholder={t('state')}
            style={{ width: 150 }}
            value={state}
            onChange={setState}
            options={(['EDITING', 'PROPOSED', 'PUBLISHED', 'REJECTED', 'WITHDRAWN'] as const).map((s) => ({ value: s, label: w(s) }))}
          />
          <Button onClick={list.reload}>{t('refresh')}</Button>
        </Space>
        {list.error && <Alert type="error" showIcon message={`${list.error.code}: ${list.error.message}`} />}
        <Table<DraftSummary>
          size="small"
          rowKey="id"
          loading={list.loading}
          dataSource={list.data?.drafts ?? []}
          pagination={{ pageSize: 15, hideOnSinglePage: true }}
          onRow={(d) => ({ onClick: () => setSelected(d.id), style: { cursor: 'pointer' } })}
          rowClassName={(d) => (d.id === selected ? 'ant-table-row-selected' : '')}
          data-testid="drafts"
          columns={[
            { title: 'ID', dataIndex: 'id', render: (v: string) => <span className="mono">{v}</span> },
            { title: t('department'), dataIndex: 'department', render: (v: string) => <span className="nowrap">{v}</span> },
            { title: t('state'), dataIndex: 'state', render: (s: string) => <Tag color={STATE_COLOR[s]}>{w(s)}</Tag> },
            { title: t('author'), dataIndex: 'author' },
            { title: t('reason'), dataIndex: 'reason', ellipsis: true },
          ]}
        />
      </Col>
      <Col span={15}>
        {selected ? (
          <DraftDetail key={selected} id={selected} onChange={list.reload} />
        ) : (
          <Card>
            <Empty description={t('selectDraft')} />
          </Card>
        )}
      </Col>
      <Modal
        open={creating}
        title={t('newDraft')}
        onCancel={() => setCreating(false)}
        footer={null}
        destroyOnClose
      >
        <Form layout="vertical" onFinish={create} initialValues={{ department: session.agency }}>
          <Form.Item name="department" label={t('department')} rules={[{ required: true, message: t('required') }]}>
            <Input data-testid="draft-department" />
          </Form.Item>
          <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input data-testid="draft-reason" />
          </Form.Item>
          <Form.Item name="basis" label={t('basis')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
            <Input data-testid="draft-basis" />
          </Form.Item>
          <Button type="primary" htmlType="submit" data-testid="draft-create">
            {t('submit')}
          </Button>
        </Form>
      </Modal>
    </Row>
  );
}

function DraftDetail({ id, onChange }: { id: string; onChange: () => void }) {
  const t = useT();
  const one = useQuery<{ draft: Draft | null }>(`query Draft($id: ID!) { draft(id: $id) { ${DRAFT_FIELDS} } }`, { id }, [id]);
  const changed = () => {
    one.reload();
    onChange();
  };
  if (one.error) return <Alert type="error" showIcon message={`${one.error.code}: ${one.error.message}`} />;
  if (!one.data?.draft) {
    return (
      <Card loading={one.loading}>
        <Empty description={t('selectDraft')} />
      </Card>
    );
  }
  return <DraftCard draft={one.data.draft} onChange={changed} />;
}

function DraftCard({ draft, onChange }: { draft: Draft; onChange: () => void }) {
  const t = useT();
  const w = useWord();
  const session = useSession();
  const act = useAction();
  const { modal } = App.useApp();
  const [text, setText] = useState(draft.text);
  const [decision, setDecision] = useState<'approve' | 'reject' | null>(null);
  useEffect(() => setText(draft.text), [draft.text]);

  const mine = draft.author === session.officer;
  const editing = draft.state === 'EDITING';
  const proposed = draft.state === 'PROPOSED';
  const editor = can(session, 'policy_editor') && draft.department === session.agency;
  const approver = can(session, 'platform_admin') || (can(session, 'policy_approver') && draft.department === session.agency);

  const mutate = async (query: string, vars: Record<string, unknown>, ok: string) => {
    const r = await act(() => gql(query, vars), ok);
    if (r) onChange();
    return r;
  };

  return (
    <Card
      data-testid="draft-detail"
      title={
        <Space>
          <span>
            {t('draft')} <span className="mono">{draft.id}</span>
          </span>
          <Tag color={STATE_COLOR[draft.state]} data-testid="draft-state">
            {w(draft.state)}
          </Tag>
        </Space>
      }
      extra={
        <Space wrap>
          {editing && editor && (
            <Button
              type="primary"
              data-testid="propose"
              onClick={() => mutate(`mutation P($id: ID!) { proposeDraft(id: $id) { id state } }`, { id: draft.id }, t('proposed'))}
            >
              {t('propose')}
            </Button>
          )}
          {(editing || proposed) && editor && mine && (
            <Button
              data-testid="withdraw"
              onClick={() => mutate(`mutation W($id: ID!) { withdrawDraft(id: $id) { id state } }`, { id: draft.id }, t('done'))}
            >
              {t('withdraw')}
            </Button>
          )}
          {proposed && approver && !mine && (
            <>
              <Button type="primary" data-testid="approve" onClick={() => setDecision('approve')}>
                {t('approve')}
              </Button>
              <Button danger data-testid="reject" onClick={() => setDecision('reject')}>
                {t('reject')}
              </Button>
            </>
          )}
        </Space>
      }
    >
      <Descriptions size="small" column={2} style={{ marginBottom: 12 }}>
        <Descriptions.Item label={t('department')}>{draft.department}</Descriptions.Item>
        <Descriptions.Item label={t('file')}>
          <span className="mono">{draft.file}</span>
        </Descriptions.Item>
        <Descriptions.Item label={t('author')}>{draft.author}</Descriptions.Item>
        <Descriptions.Item label={t('version')}>{draft.baseVersion}</Descriptions.Item>
        <Descriptions.Item label={t('reason')}>{draft.reason}</Descriptions.Item>
        <Descriptions.Item label={t('basis')}>{draft.basis}</Descriptions.Item>
        <Descriptions.Item label={t('createdAt')}>{when(draft.createdAt)}</Descriptions.Item>
        {draft.decidedBy && (
          <Descriptions.Item label={t('approver')}>
            {draft.decidedBy} · {when(draft.decidedAt)}
          </Descriptions.Item>
        )}
        {draft.note && <Descriptions.Item label={t('note')}>{draft.note}</Descriptions.Item>}
        {draft.publishedVersion != null && (
          <Descriptions.Item label={t('version')}>{t('published', { n: draft.publishedVersion })}</Descriptions.Item>
        )}
      </Descriptions>
      <Tabs
        items={[
          {
            key: 'diff',
            label: t('diff'),
            children: <DiffView draft={draft} />,
          },
          {
            key: 'text',
            label: t('file'),
            children: (
              <div className="policy-text">
                <Input.TextArea
                  value={text}
                  onChange={(e) => setText(e.target.value)}
                  readOnly={!(editing && editor)}
                  autoSize={{ minRows: 12, maxRows: 28 }}
                  spellCheck={false}
                  data-testid="draft-text"
                />
                {editing && editor && (
                  <Button
                    style={{ marginTop: 8 }}
                    data-testid="save-text"
                    disabled={text === draft.text}
                    onClick={() =>
                      mutate(`mutation U($id: ID!, $text: String!) { updateDraft(id: $id, text: $text) { id } }`, { id: draft.id, text }, t('saved'))
                    }
                  >
                    {t('save')}
                  </Button>
                )}
              </div>
            ),
          },
          ...(editing && editor
            ? [
                {
                  key: 'revoke',
                  label: t('revokeLine'),
                  children: <RevokeForm draft={draft} onDone={onChange} />,
                },
              ]
            : []),
        ]}
      />
      <Modal
        open={decision !== null}
        title={decision === 'approve' ? t('approve') : t('reject')}
        onCancel={() => setDecision(null)}
        footer={null}
        destroyOnClose
      >
        <Form
          layout="vertical"
          onFinish={async (v: { note?: string }) => {
            const r =
              decision === 'approve'
                ? await act(
                    () =>
                      gql<{ approveDraft: PolicyVersion }>(
                        `mutation A($id: ID!, $note: String) { approveDraft(id: $id, note: $note) { number } }`,
                        { id: draft.id, note: v.note || null },
                      ),
                  )
                : await mutate(
                    `mutation R($id: ID!, $note: String!) { rejectDraft(id: $id, note: $note) { id state } }`,
                    { id: draft.id, note: v.note ?? '' },
                    t('rejected'),
                  );
            if (r) {
              if (decision === 'approve') {
                const n = (r as { approveDraft: PolicyVersion }).approveDraft.number;
                modal.success({ title: t('published', { n }) });
                onChange();
              }
              setDecision(null);
            }
          }}
        >
          <Form.Item
            name="note"
            label={t('note')}
            rules={decision === 'reject' ? [{ required: true, whitespace: true, message: t('noteRequired') }] : []}
          >
            <Input.TextArea rows={3} data-testid="decision-note" />
          </Form.Item>
          <Button type="primary" danger={decision === 'reject'} htmlType="submit" data-testid="decision-submit">
            {decision === 'approve' ? t('approve') : t('reject')}
          </Button>
        </Form>
      </Modal>
    </Card>
  );
}

/** One change in plain words. */
export function ChangeLine({ c }: { c: Change }) {
  const t = useT();
  const w = useWord();
  const color = c.kind === 'GAINS_FIELD' || c.kind === 'GAINS_ROWS' ? 'green' : c.kind === 'LOSES_FIELD' || c.kind === 'LOSES_ROWS' ? 'red' : 'gold';
  return (
    <div style={{ marginBottom: 6 }} data-testid="change">
      <Tag color={color}>{w(c.kind)}</Tag>
      {t('changeSentence', {
        agency: c.agency,
        role: c.role,
        purpose: c.purpose,
        object: c.object,
        before: c.before ?? '—',
        after: c.after ?? '—',
      })}
      {c.residentsTouched != null && (
        <Typography.Text type="secondary"> · {t('residentsTouched', { n: c.residentsTouched })}</Typography.Text>
      )}
    </div>
  );
}

function DiffView({ draft }: { draft: Draft }) {
  const t = useT();
  return (
    <div data-testid="diff">
      {draft.changes.length === 0 ? (
        <Typography.Text type="secondary">{t('noChanges')}</Typography.Text>
      ) : (
        draft.changes.map((c, i) => <ChangeLine key={i} c={c} />)
      )}
      <Typography.Title level={5} style={{ marginTop: 16 }}>
        {t('lineDiff')}
      </Typography.Title>
      <div className="mono" style={{ border: '1px solid #f0f0f0', borderRadius: 4, overflowX: 'auto' }} data-testid="line-diff">
        {draft.lines.removed.map((l, i) => (
          <div key={`r${i}`} className="diff-line diff-del">
            - {l}
          </div>
        ))}
        {draft.lines.added.map((l, i) => (
          <div key={`a${i}`} className="diff-line diff-add">
            + {l}
          </div>
        ))}
        {draft.lines.removed.length + draft.lines.added.length === 0 && (
          <div className="diff-line" style={{ color: '#bfbfbf' }}>
            {t('noChanges')}
          </div>
        )}
      </div>
    </div>
  );
}

function RevokeForm({ draft, onDone }: { draft: Draft; onDone: () => void }) {
  const t = useT();
  const w = useWord();
  const act = useAction();
  const grants = useQuery<{ matrix: MatrixCell[] }>(
    `query Granted($agency: String, $draftId: ID) { matrix(agency: $agency, draftId: $draftId) { agency role purpose object access mask } }`,
    { agency: draft.department, draftId: draft.id },
    [draft.id, draft.text],
  );
  const [choice, setChoice] = useState<string | undefined>();
  const options = (grants.data?.matrix ?? [])
    .filter((c) => c.access !== 'NONE')
    .map((c) => ({
      value: JSON.stringify([c.object, c.role, c.purpose]),
      label: `${c.object} — ${c.role} / ${c.purpose} (${w(c.access)}${c.mask ? `: ${c.mask}` : ''})`,
    }));
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {grants.error && <Alert type="error" showIcon message={`${grants.error.code}: ${grants.error.message}`} />}
      <Select
        showSearch
        style={{ width: '100%' }}
        optionFilterProp="label"
        placeholder={t('revokeLine')}
        loading={grants.loading}
        value={choice}
        onChange={setChoice}
        options={options}
        data-testid="revoke-choice"
      />
      <Button
        danger
        disabled={!choice}
        data-testid="revoke"
        onClick={async () => {
          if (!choice) return;
          const [object, role, purpose] = JSON.parse(choice) as string[];
          const r = await act(
            () =>
              gql(`mutation Rv($id: ID!, $object: String!, $role: String!, $purpose: String!) {
                revokeLine(id: $id, object: $object, role: $role, purpose: $purpose) { id } }`, { id: draft.id, object, role, purpose }),
            t('done'),
          );
          if (r) {
            setChoice(undefined);
            onDone();
          }
        }}
      >
        {t('revoke')}
      </Button>
    </Space>
  );
}
