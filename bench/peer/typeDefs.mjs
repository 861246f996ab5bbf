// Type definitions for the peer: @neo4j/graphql v7 over the same Neo4j graph as
// mandate (schema/hub.graphql), cut down to what the benchmark agency
// D-GRID_MANAGEMENT-T1 may see under its responsibility list
// (policies/lists/grid-management-s01.csv, agency renamed):
//
// * fields: ONLY the granted ones are declared, so every other field (Resident.ethnicity,
//   Resident.lowIncome, Grid.servedBy, Community.subdistrict, ...) does not exist in this
//   schema; Subdistrict and Department are not types at all.
// * rows: every type carries an @authorization filter equivalent to the `jurisdiction`
//   row scope, driven by the JWT claim `grids` (the ids of the agency's grids). The
//   library applies it to root lists, connections, totalCount and every nested
//   traversal (e.g. Household.members only yields members inside the grids).
// * Resident.idNumber is granted `read_masked, keep_start`: first 6 chars + "************".
//   @neo4j/graphql has NO masking feature; it is EMULATED here by declaring
//   idNumber as a @cypher field that computes the mask in Cypher (the raw property is
//   never returned; the field can be neither filtered nor sorted on).
// * The schema is read-only: @mutation(operations: []) and @subscription(events: [])
//   on every type remove create/update/delete and subscriptions; aggregations are off
//   (@query(aggregate: false)); the count workload uses `...Connection { totalCount }`.
// * Page sizes as in mandate: @limit(default: 20, max: 100) on every type (mandate's
//   `first` defaults to 20 and is capped at 100).

export const typeDefs = /* GraphQL */ `
  # Every operation needs a valid JWT (verified by the library with features.authorization).
  extend schema @authentication

  enum Sex {
    MALE
    FEMALE
  }
  enum HukouType {
    LOCAL
    MIGRANT
  }
  enum DisabilityStatus {
    NONE
    GRADE_1
    GRADE_2
    GRADE_3
    GRADE_4
  }
  enum RelationToHead {
    HEAD
    SPOUSE
    CHILD
    PARENT
    GRANDCHILD
    GRANDPARENT
    SIBLING
    CHILD_IN_LAW
    OTHER
  }
  enum SafetyGrade {
    A
    B
    C
    D
  }

  type Resident
    @node(labels: ["Resident"])
    @query(read: true, aggregate: false)
    @limit(default: 20, max: 100)
    @mutation(operations: [])
    @subscription(events: [])
    @authorization(
      filter: [{ where: { node: { household: { building: { grid: { id: { in: "$jwt.grids" } } } } } } }]
    ) {
    id: ID!
    name: String!
    # EMULATED masking (read_masked, keep_ends): the library cannot mask, so the field
    # is computed in Cypher; the stored 18-character number is never sent.
    idNumber: String
      @filterable(byValue: false, byAggregate: false)
      @sortable(byValue: false)
      @cypher(
        statement: "RETURN left(this.idNumber, 6) + '************' AS masked"
        columnName: "masked"
      )
    birthDate: Date!
    sex: Sex!
    phone: String
    hukouType: HukouType!
    occupation: String
    disabilityStatus: DisabilityStatus!
    elderlyLivingAlone: Boolean!
    household: Household @relationship(type: "MEMBER_OF", direction: OUT, properties: "MemberOf")
  }

  type MemberOf @relationshipProperties {
    relationToHead: RelationToHead!
  }

  type Household
    @node(labels: ["Household"])
    @query(read: true, aggregate: false)
    @limit(default: 20, max: 100)
    @mutation(operations: [])
    @subscription(events: [])
    @authorization(filter: [{ where: { node: { building: { grid: { id: { in: "$jwt.grids" } } } } } }]) {
    id: ID!
    householdNumber: String!
    unit: String!
    memberCount: Int!
    members: [Resident!]! @relationship(type: "MEMBER_OF", direction: IN, properties: "MemberOf")
    building: Building @relationship(type: "RESIDES_IN", direction: OUT)
  }

  type Building
    @node(labels: ["Building"])
    @query(read: true, aggregate: false)
    @limit(default: 20, max: 100)
    @mutation(operations: [])
    @subscription(events: [])
    @authorization(filter: [{ where: { node: { grid: { id: { in: "$jwt.grids" } } } } }]) {
    id: ID!
    address: String!
    yearBuilt: Int!
    floors: Int!
    oldCompound: Boolean!
    safetyGrade: SafetyGrade!
    households: [Household!]! @relationship(type: "RESIDES_IN", direction: IN)
    grid: Grid @relationship(type: "IN_GRID", direction: OUT)
  }

  type Grid
    @node(labels: ["Grid"])
    @query(read: true, aggregate: false)
    @limit(default: 20, max: 100)
    @mutation(operations: [])
    @subscription(events: [])
    @authorization(filter: [{ where: { node: { id: { in: "$jwt.grids" } } } }]) {
    id: ID!
    name: String!
    code: String!
    gridWorker: String
    buildings: [Building!]! @relationship(type: "IN_GRID", direction: IN)
    community: Community @relationship(type: "PART_OF", direction: OUT)
  }

  type Community
    @node(labels: ["Community"])
    @query(read: true, aggregate: false)
    @limit(default: 20, max: 100)
    @mutation(operations: [])
    @subscription(events: [])
    @authorization(filter: [{ where: { node: { grids: { some: { id: { in: "$jwt.grids" } } } } } }]) {
    id: ID!
    name: String!
    code: String!
    grids: [Grid!]! @relationship(type: "PART_OF", direction: IN)
  }
`;
