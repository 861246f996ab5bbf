// The admin API's types, as the admin contract (`mandate admin-sdl`) defines them.

export type ShareClass = 'UNCONDITIONAL' | 'CONDITIONAL' | 'NOT_SHARED';
export type Access = 'READ' | 'MASKED' | 'NONE';
export type DraftState = 'EDITING' | 'PROPOSED' | 'PUBLISHED' | 'REJECTED' | 'WITHDRAWN';
export type ApplicationState = 'SUBMITTED' | 'ACKNOWLEDGED' | 'APPROVED' | 'REFUSED' | 'WITHDRAWN';
export type GrantKind = 'APPLICATION' | 'BREAK_GLASS';
export type ChangeKind =
  | 'GAINS_FIELD'
  | 'LOSES_FIELD'
  | 'MASK_CHANGED'
  | 'SCOPE_CHANGED'
  | 'GAINS_ROWS'
  | 'LOSES_ROWS';

export type Role =
  | 'policy_editor'
  | 'policy_approver'
  | 'data_steward'
  | 'auditor'
  | 'platform_admin'
  | 'resident_service';

/** The signed-in officer, as `POST /console/session` answers. */
export interface Session {
  officer: string;
  agency: string;
  roles: string[];
  csrf: string;
  expiresAt: string;
}

export interface DemoOfficer {
  officer: string;
  agency: string;
  roles: string[];
  label: string;
}

export interface CatalogField {
  type: string;
  field: string;
  object: string;
  owner: string;
  sensitivity: string;
  shareClass: ShareClass;
  description: string | null;
}

export interface MatrixCell {
  agency: string;
  role: string;
  purpose: string;
  object: string;
  access: Access;
  mask: string | null;
  scope: string | null;
  shareClass: ShareClass;
  grantedBy: string[];
}

export interface LineDiff {
  added: string[];
  removed: string[];
}

export interface Change {
  kind: ChangeKind;
  agency: string;
  role: string;
  purpose: string;
  object: string;
  before: string | null;
  after: string | null;
  residentsTouched: number | null;
}

export interface PolicyVersion {
  number: number;
  publishedAt: string;
  author: string;
  approver: string;
  reason: string;
  basis: string;
  draftId: string | null;
  rollbackOf: number | null;
  current: boolean;
  files: string[];
}

export interface Draft {
  id: string;
  department: string;
  file: string;
  baseVersion: number;
  state: DraftState;
  author: string;
  reason: string;
  basis: string;
  createdAt: string;
  proposedAt: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  note: string | null;
  publishedVersion: number | null;
  text: string;
  lines: LineDiff;
  changes: Change[];
}

export interface SharingApplication {
  id: string;
  agency: string;
  officer: string;
  role: string;
  purpose: string;
  fields: string[];
  basis: string;
  scope: string;
  durationDays: number;
  owner: string;
  state: ApplicationState;
  submittedAt: string;
  acknowledgeBy: string;
  answerBy: string;
  acknowledgedAt: string | null;
  answeredAt: string | null;
  answeredBy: string | null;
  reasons: string | null;
  overdue: boolean;
  grantId: string | null;
}

export interface Grant {
  id: string;
  kind: GrantKind;
  agency: string;
  role: string;
  purpose: string;
  fields: string[];
  scope: string;
  issuedBy: string;
  startsAt: string;
  expiresAt: string;
  expired: boolean;
  incident: string | null;
  reviewDueAt: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  reviewOverdue: boolean;
}

export interface AuditEntry {
  time: string;
  chain: string;
  seq: number;
  agency: string;
  officer: string;
  purpose: string;
  caseNumber: string;
  decision: string;
  code: string;
  action: string | null;
  fields: string[];
  residents: string[];
}

export interface AgencyDayCount {
  agency: string;
  day: string;
  reads: number;
}

export interface Receipt {
  time: string;
  agency: string;
  purpose: string | null;
  caseNumber: string | null;
  officer: string | null;
  fields: string[];
}
