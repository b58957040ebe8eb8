import dev.sluice.client.jul.SluiceHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * java.util.logging to Sluice. Run from clients/java after ./build.sh:
 *
 *   SLUICE_TOKEN=t.… java -cp build/sluice-client.jar examples/JulExample.java
 */
public class JulExample {
    private static final Logger log = Logger.getLogger("com.example.orders");

    public static void main(String[] args) {
        String endpoint = System.getenv().getOrDefault("SLUICE_URL", "http://localhost:9000");
        String service = System.getenv().getOrDefault("SLUICE_SERVICE", "my-application");
        SluiceHandler sluice = new SluiceHandler(endpoint, service, "orders"); // api key from SLUICE_TOKEN
        log.addHandler(sluice);

        log.info("Order placed");
        log.log(Level.WARNING, "Stock low for {0}: {1} left", new Object[] {"SKU-1", 3});
        log.log(Level.SEVERE, "Payment failed", new IllegalStateException("card declined"));

        sluice.close(); // delivers what is buffered (a JVM exit would too, through the logger's shutdown hook)
    }
}
