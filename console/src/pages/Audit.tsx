// Audit-log search (agency, purpose, case, resident, time) and a chart of reads
// per agency per day, drawn as plain SVG (nothing loaded from outside).
import { useMemo, useState } from 'react';
import { Alert, Button, Card, DatePicker, Form, Input, Select, Space, Table, Tag, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useQuery, when } from '../hooks';
import { useT } from '../i18n';
import type { AgencyDayCount, AuditEntry } from '../types';

const PALETTE = ['#1d39c4', '#52c41a', '#fa8c16', '#eb2f96', '#13c2c2', '#722ed1', '#faad14', '#a0d911', '#f5222d', '#2f54eb', '#8c8c8c'];

interface Filter {
  agency?: string;
  purpose?: string;
  caseNumber?: string;
  resident?: string;
  from?: string;
  to?: string;
}

export function Audit() {
  const t = useT();
  const [filter, setFilter] = useState<Filter>({});
  const agencies = useQuery<{ agencies: string[] }>(`query A { agencies }`, undefined, []);
  const log = useQuery<{ auditLog: AuditEntry[] }>(
    `query Log($agency: String, $purpose: String, $caseNumber: String, $resident: String, $from: String, $to: String) {
      auditLog(agency: $agency, purpose: $purpose, caseNumber: $caseNumber, resident: $resident, from: $from, to: $to, first: 200) {
        time chain seq agency officer purpose caseNumber decision code action fields residents } }`,
    { ...filter },
    [JSON.stringify(filter)],
  );
  const perDay = useQuery<{ readsPerDay: AgencyDayCount[] }>(`query D { readsPerDay(days: 14) { agency day reads } }`, undefined, []);

  return (
    <>
      <Card size="small" title={t('readsPerDay')} style={{ marginBottom: 16 }}>
        {perDay.error && <Alert type="error" showIcon message={`${perDay.error.code}: ${perDay.error.message}`} />}
        <ReadsChart data={perDay.data?.readsPerDay ?? []} />
      </Card>
      <Form
        layout="inline"
        style={{ marginBottom: 12, rowGap: 8 }}
        onFinish={(v: { agency?: string; purpose?: string; caseNumber?: string; resident?: string; from?: Dayjs; to?: Dayjs }) =>
          setFilter({
            agency: v.agency || undefined,
            purpose: v.purpose?.trim() || undefined,
            caseNumber: v.caseNumber?.trim() || undefined,
            resident: v.resident?.trim() || undefined,
            from: v.from ? v.from.toISOString() : undefined,
            to: v.to ? v.to.toISOString() : undefined,
          })
        }
      >
        <Form.Item name="agency" label={t('agency')}>
          <Select allowClear showSearch style={{ width: 200 }} options={(agencies.data?.agencies ?? []).map((a) => ({ value: a, label: a }))} />
        </Form.Item>
        <Form.Item name="purpose" label={t('purpose')}>
          <Input style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="caseNumber" label={t('caseNumber')}>
          <Input style={{ width: 160 }} data-testid="audit-case" />
        </Form.Item>
        <Form.Item name="resident" label={t('resident')}>
          <Input style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="from" label={t('from')}>
          <DatePicker showTime />
        </Form.Item>
        <Form.Item name="to" label={t('to')}>
          <DatePicker showTime />
        </Form.Item>
        <Button type="primary" htmlType="submit" data-testid="audit-search">
          {t('search')}
        </Button>
      </Form>
      {log.error && <Alert type="error" showIcon message={`${log.error.code}: ${log.error.message}`} style={{ marginBottom: 12 }} />}
      <Table<AuditEntry>
        size="small"
        rowKey={(e) => `${e.chain}-${e.seq}`}
        loading={log.loading}
        dataSource={log.data?.auditLog ?? []}
        pagination={{ pageSize: 25, hideOnSinglePage: true }}
        data-testid="audit-log"
        columns={[
          { title: t('time'), dataIndex: 'time', render: when, width: 140 },
          { title: t('agency'), dataIndex: 'agency' },
          { title: t('officer'), dataIndex: 'officer' },
          { title: t('purpose'), dataIndex: 'purpose' },
          { title: t('caseNumber'), dataIndex: 'caseNumber' },
          {
            title: t('decision'),
            dataIndex: 'decision',
            render: (d: string, e) => (
              <Space size={2}>
                <Tag color={d === 'allow' || d === 'ALLOW' ? 'green' : d === 'deny' || d === 'DENY' ? 'red' : 'default'}>{d}</Tag>
                {e.code && <span className="mono">{e.code}</span>}
              </Space>
            ),
          },
          { title: t('action'), dataIndex: 'action' },
          { title: t('fields'), dataIndex: 'fields', render: (f: string[]) => <span className="mono">{f.join(', ')}</span> },
          {
            title: t('residents'),
            dataIndex: 'residents',
            render: (r: string[]) => <span className="mono">{r.length > 3 ? `${r.slice(0, 3).join(', ')} +${r.length - 3}` : r.join(', ')}</span>,
          },
          { title: '#', key: 'seq', render: (_, e) => <span className="mono">{`${e.chain}:${e.seq}`}</span> },
        ]}
      />
    </>
  );
}

/** Stacked bars: one per day, one colour per agency. */
export function ReadsChart({ data }: { data: AgencyDayCount[] }) {
  const t = useT();
  const { days, agencies, max, by } = useMemo(() => {
    const days = [...new Set(data.map((d) => d.day))].sort();
    const agencies = [...new Set(data.map((d) => d.agency))].sort();
    const by = new Map<string, number>();
    const totals = new Map<string, number>();
    for (const d of data) {
      by.set(`${d.day}|${d.agency}`, d.reads);
      totals.set(d.day, (totals.get(d.day) ?? 0) + d.reads);
    }
    return { days, agencies, max: Math.max(1, ...totals.values()), by };
  }, [data]);
  if (days.length === 0) return <Typography.Text type="secondary">{t('noData')}</Typography.Text>;
  const W = 900;
  const H = 240;
  const left = 44;
  const bottom = 28;
  const plotH = H - bottom - 10;
  const step = (W - left - 10) / days.length;
  const bar = Math.min(40, step * 0.7);
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const y = (v: number) => 10 + plotH - (v / top) * plotH;
  return (
    <div data-testid="reads-chart">
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={t('readsPerDay')}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={left} x2={W - 10} y1={y(v)} y2={y(v)} stroke="#f0f0f0" />
            <text x={left - 6} y={y(v) + 4} textAnchor="end">
              {v}
            </text>
          </g>
        ))}
        {days.map((day, i) => {
          let acc = 0;
          const x = left + i * step + (step - bar) / 2;
          return (
            <g key={day}>
              {agencies.map((a, j) => {
                const v = by.get(`${day}|${a}`) ?? 0;
                if (!v) return null;
                const y0 = y(acc);
                acc += v;
                const y1 = y(acc);
                return (
                  <rect key={a} x={x} y={y1} width={bar} height={Math.max(0.5, y0 - y1)} fill={PALETTE[j % PALETTE.length]}>
                    <title>{`${day} · ${a}: ${v} ${t('reads')}`}</title>
                  </rect>
                );
              })}
              <text x={x + bar / 2} y={H - 10} textAnchor="middle">
                {day.slice(5)}
              </text>
            </g>
          );
        })}
        <line x1={left} x2={W - 10} y1={y(0)} y2={y(0)} stroke="#bfbfbf" />
      </svg>
      <Space wrap size="middle">
        {agencies.map((a, j) => (
          <span key={a}>
            <span className="legend-swatch" style={{ background: PALETTE[j % PALETTE.length] }} />
            {a}
          </span>
        ))}
      </Space>
    </div>
  );
}

function niceTicks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const unit = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw);
  const out: number[] = [];
  for (let v = 0; v <= max + unit - 1e-9; v += unit) out.push(Math.round(v));
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + unit);
  return out;
}
