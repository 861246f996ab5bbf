/*
 * Asks as: agency D-HUMAN_RESOURCES (人力资源和社会保障局), role employment_officer,
 * purpose employment_services (公共就业服务).
 * Why: the bureau's employment-assistance programme (就业援助) calls working-age residents
 * without an occupation to offer training and job placement. The responsibility list shows it
 * working-age residents only, their occupation in full, and the ID number masked to its region
 * (340102************) and the phone masked (138****5678). The client pages through the list
 * with the cursor, two pages of 20.
 *
 * Environment: MANDATE_DEMO_URL (the hub's base URL); MANDATE_TOKEN, or MANDATE_BIN and
 * MANDATE_CONFIG (absolute paths) to mint one with `mandate token`.
 * Exits 1 on a GraphQL error (its extensions.code printed) or a wrong answer.
 */
package gov.example.employment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.regex.Pattern;

public final class JobSeekerOutreach {
    static final String AGENCY = "D-HUMAN_RESOURCES";
    static final String ROLE = "employment_officer";
    static final String PURPOSE = "employment_services";
    static final String CASE = "RS-JYYZ-2026-0052";

    static final String QUERY = """
        query JobSeekers($occupation: String!, $after: String) {
          residents(
            first: 20
            after: $after
            where: { occupation: { eq: $occupation } }
            orderBy: [{ field: ID, direction: ASC }]
          ) {
            totalCount
            pageInfo { hasNextPage endCursor }
            edges { node { id name birthDate occupation hukouType idNumber phone } }
          }
        }
        """;

    static final Pattern MASKED_ID = Pattern.compile("^[0-9]{6}\\*{12}$");
    static final Pattern MASKED_PHONE = Pattern.compile("^[0-9]{3}\\*{4}[0-9]{4}$");

    /** The hub answered with errors; the message lists their extensions.code. */
    static final class GraphQLException extends Exception {
        GraphQLException(String message) {
            super(message);
        }
    }

    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final URI endpoint;
    private final String bearer;

    JobSeekerOutreach(URI endpoint, String bearer) {
        this.endpoint = endpoint;
        this.bearer = bearer;
    }

    /** POSTs one GraphQL request; returns `data`, or throws with every error's code. */
    JsonNode ask(String query, ObjectNode variables)
            throws IOException, InterruptedException, GraphQLException {
        ObjectNode body = json.createObjectNode();
        body.put("query", query);
        body.set("variables", variables);
        HttpRequest request = HttpRequest.newBuilder(endpoint)
                .timeout(Duration.ofSeconds(30))
                .header("content-type", "application/json")
                .header("accept", "application/graphql-response+json")
                .header("authorization", "Bearer " + bearer)
                .header("x-mandate-purpose", PURPOSE)
                .header("x-mandate-case", CASE)
                .POST(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(body)))
                .build();
        HttpResponse<String> response =
                http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        // A refusal (401, 403, 400, 429 ...) still carries a GraphQL body with the code.
        JsonNode answer;
        try {
            answer = json.readTree(response.body());
        } catch (IOException e) {
            throw new GraphQLException("HTTP " + response.statusCode() + " without a GraphQL body");
        }
        JsonNode errors = answer.path("errors");
        if (errors.isArray() && !errors.isEmpty()) {
            List<String> described = new ArrayList<>();
            for (JsonNode error : errors) {
                described.add(error.path("extensions").path("code").asText("NO_CODE")
                        + ": " + error.path("message").asText());
            }
            throw new GraphQLException(String.join("; ", described));
        }
        return answer.path("data");
    }

    static String token() throws IOException, InterruptedException {
        String given = System.getenv("MANDATE_TOKEN");
        if (given != null && !given.isBlank()) {
            return given.trim();
        }
        String bin = System.getenv("MANDATE_BIN");
        String config = System.getenv("MANDATE_CONFIG");
        if (bin == null || config == null) {
            throw new IllegalStateException("set MANDATE_TOKEN, or MANDATE_BIN and MANDATE_CONFIG");
        }
        Process p = new ProcessBuilder(bin, "--config", config, "token",
                "--agency", AGENCY, "--role", ROLE, "--purpose", PURPOSE)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0 || out.isEmpty()) {
            throw new IllegalStateException("`mandate token` failed");
        }
        return out;
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new IllegalStateException("wrong answer: " + message);
        }
    }

    int run() throws Exception {
        List<JsonNode> rows = new ArrayList<>();
        String after = null;
        long total = 0;
        for (int page = 0; page < 2; page++) {
            ObjectNode variables = json.createObjectNode();
            variables.put("occupation", "无业");
            variables.put("after", after);
            JsonNode residents = ask(QUERY, variables).path("residents");
            total = residents.path("totalCount").asLong();
            residents.path("edges").forEach(edge -> rows.add(edge.path("node")));
            JsonNode pageInfo = residents.path("pageInfo");
            if (!pageInfo.path("hasNextPage").asBoolean()) {
                break;
            }
            after = pageInfo.path("endCursor").asText();
        }

        check(!rows.isEmpty(), "no working-age resident without an occupation");
        HashSet<String> ids = new HashSet<>();
        for (JsonNode r : rows) {
            check(ids.add(r.path("id").asText()), "the pages overlap at " + r.path("id"));
            check("无业".equals(r.path("occupation").asText()), "occupation " + r.path("occupation"));
            check(MASKED_ID.matcher(r.path("idNumber").asText()).matches(),
                    "ID number not masked: " + r.path("idNumber"));
            check(r.path("phone").isNull() || MASKED_PHONE.matcher(r.path("phone").asText()).matches(),
                    "phone not masked: " + r.path("phone"));
        }

        rows.stream().limit(5).forEach(r -> System.out.printf("%s\t%s\t%s\t%s\t%s%n",
                r.path("id").asText(), r.path("name").asText(), r.path("birthDate").asText(),
                r.path("idNumber").asText(), r.path("phone").asText("-")));
        System.out.printf("java client: %d of %d working-age residents without an occupation, "
                + "ID numbers masked%n", rows.size(), total);
        return 0;
    }

    public static void main(String[] args) throws Exception {
        String base = System.getenv("MANDATE_DEMO_URL");
        if (base == null || base.isBlank()) {
            System.err.println("java client: set MANDATE_DEMO_URL");
            System.exit(2);
        }
        URI endpoint = URI.create(base.replaceAll("/+$", "") + "/graphql");
        try {
            System.exit(new JobSeekerOutreach(endpoint, token()).run());
        } catch (GraphQLException e) {
            System.err.println("java client: error " + e.getMessage());
            System.exit(1);
        } catch (IllegalStateException e) {
            System.err.println("java client: " + e.getMessage());
            System.exit(1);
        } catch (IOException e) {
            System.err.println("java client: cannot reach the hub at " + endpoint + ": " + e);
            System.exit(1);
        }
    }
}
