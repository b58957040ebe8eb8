import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * SLF4J + Logback to Sluice, the appender configured in examples/logback.xml. Run from clients/java
 * after ./build.sh (the Debian jars; with Maven or Gradle, logback-classic brings the other two):
 *
 *   SLUICE_TOKEN=t.… java -Dlogback.configurationFile=examples/logback.xml \
 *     -cp build/sluice-client.jar:build/sluice-client-logback.jar:/usr/share/java/logback-classic.jar:/usr/share/java/logback-core.jar:/usr/share/java/slf4j-api.jar \
 *     examples/LogbackExample.java
 */
public class LogbackExample {
    private static final Logger log = LoggerFactory.getLogger(LogbackExample.class);

    public static void main(String[] args) {
        MDC.put("user_id", "12345"); // the MDC becomes the entry's context
        MDC.put("ip", "192.168.1.1");
        log.info("User logged in");
        log.warn("Cart total {} exceeds the limit {}", 1200.5, 1000);
        log.error("Payment failed", new IllegalStateException("card declined"));
        MDC.clear();
        // Nothing to close: the appender's logger delivers what is buffered when the JVM exits.
    }
}
