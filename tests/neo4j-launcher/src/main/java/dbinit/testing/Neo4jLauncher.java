package dbinit.testing;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;

/**
 * Starts an embedded Neo4j Community DBMS with Bolt on 127.0.0.1:PORT and auth on.
 * Usage: Neo4jLauncher HOME PORT PASSWORD. Prints "READY" on stdout once Bolt
 * accepts logins with the password; stops cleanly on SIGTERM.
 */
public final class Neo4jLauncher {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String password = args[2];

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
            .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
            .setConfig(GraphDatabaseSettings.auth_enabled, true)
            .setConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
            // Without these a SIGTERM waits out the Bolt thread pool (about 12 s).
            .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(100))
            .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofMillis(100))
            .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }));

        GraphDatabaseService system = dbms.database("system");
        try (var tx = system.beginTx()) {
            tx.execute("ALTER USER neo4j SET PLAINTEXT PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            tx.commit();
        } catch (QueryExecutionException e) {
            // A restart of an existing home: the password is already set.
            if (!e.getMessage().contains("cannot be the same")) {
                e.printStackTrace();
                System.exit(1);
            }
        }
        System.out.println("READY");
        System.out.flush();
        stopped.await();
    }
}
