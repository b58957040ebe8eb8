import dev.sluice.client.DistributedLogger;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * The library on its own. Run from clients/java after ./build.sh:
 *
 *   SLUICE_TOKEN=t.… java -cp build/sluice-client.jar examples/Quickstart.java
 */
public class Quickstart {
    public static void main(String[] args) {
        String endpoint = System.getenv().getOrDefault("SLUICE_URL", "http://localhost:9000");
        String service = System.getenv().getOrDefault("SLUICE_SERVICE", "my-application");

        // Started by the constructor; the api key comes from SLUICE_TOKEN. close() delivers what is buffered.
        try (DistributedLogger logger = new DistributedLogger(endpoint, service, "user-service")) {
            logger.info("User logged in successfully", Map.of("user_id", 12345, "login_method", "oauth", "ip_address", "192.168.1.100"));

            try {
                connect();
            } catch (SQLException exception) {
                // The Throwable gives stack_trace; `tags` become the entry's tags.
                logger.error("Database connection failed",
                        Map.of("database", "users-db", "error_code", "CONN_TIMEOUT", "tags", List.of("database", "critical")), exception);
            }

            // Custom events for business metrics: an INFO entry, category "event".
            logger.custom("payment_completed", Map.of("amount", 99.99, "currency", "USD", "transaction_id", "txn_abc123"));
        }
    }

    private static void connect() throws SQLException {
        throw new SQLException("connection to users-db timed out");
    }
}
