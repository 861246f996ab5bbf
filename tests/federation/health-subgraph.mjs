// A second subgraph, built with Apollo's own @apollo/subgraph: a health
// commission's system. It extends the hub's Resident with `vaccinations` (the
// gateway fetches Resident entities from here: hub -> health) and lists clinics
// whose patients are references to hub residents (the gateway fetches their
// fields from the hub's _entities: health -> hub).
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

export const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Resident @key(fields: "id") {
    id: ID!
    "Vaccinations the health commission recorded."
    vaccinations: [Vaccination!]!
  }

  type Vaccination {
    vaccine: String!
    date: String!
  }

  type Clinic {
    id: ID!
    name: String!
    "Residents registered with the clinic: references the hub resolves."
    patients: [Resident!]!
  }

  type Query {
    clinics: [Clinic!]!
  }
`);

/// Deterministic vaccinations of a resident id.
export function vaccinationsOf(id) {
  const n = Number(id.replace(/\D/g, '')) || 0;
  return [
    { vaccine: 'influenza', date: `2026-10-${String((n % 28) + 1).padStart(2, '0')}` },
    { vaccine: n % 2 ? 'pneumococcal' : 'hepatitis-b', date: '2025-04-01' },
  ];
}

/// Serves the subgraph on `port`; `patients` are the resident ids clinic C1 lists.
export async function startHealth(port, patients) {
  const resolvers = {
    Query: {
      clinics: () => [{ id: 'C1', name: '科苑社区卫生服务站', patients }],
    },
    Clinic: {
      patients: (clinic) => clinic.patients.map((id) => ({ __typename: 'Resident', id })),
    },
    Resident: {
      __resolveReference: (ref) => ({ id: ref.id }),
      vaccinations: (r) => vaccinationsOf(r.id),
    },
  };
  const calls = [];
  const server = new ApolloServer({
    schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      {
        async requestDidStart({ request }) {
          calls.push(request.query ?? '');
        },
      },
    ],
  });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port } });
  return { server, url, calls };
}
