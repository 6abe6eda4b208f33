package dbinit.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.CommunitySecurityModule;
import org.neo4j.server.security.auth.FileUserRepository;
import org.neo4j.string.UTF8;

/**
 * Starts an embedded Neo4j Community DBMS with Bolt on 127.0.0.1:PORT and auth on.
 * Usage: Neo4jLauncher HOME PORT PASSWORD [HOST]. Bolt listens on HOST (default 127.0.0.1). The password is set before the first start, as the
 * official image does. With the environment variable NEO4J_TLS_DIR (holding private.key and public.crt), Bolt
 * requires TLS; with NEO4J_READ_ONLY=true the database neo4j is read-only (server.databases.read_only).
 * Prints "READY" on stdout once started; stops cleanly on SIGTERM.
 */
public final class Neo4jLauncher {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        String host = args.length > 3 ? args[3] : "127.0.0.1";

        if (!Files.exists(home.resolve("data"))) {
            setInitialPassword(home, password);
        }
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home);
        String tls = System.getenv("NEO4J_TLS_DIR");
        if (tls != null) {
            Path dir = Path.of(tls);
            Files.createDirectories(dir.resolve("trusted"));
            Files.createDirectories(dir.resolve("revoked"));
            SslPolicyConfig bolt = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
            builder.setConfig(bolt.enabled, true)
                .setConfig(bolt.base_directory, dir)
                .setConfig(bolt.private_key, dir.resolve("private.key"))
                .setConfig(bolt.public_certificate, dir.resolve("public.crt"))
                .setConfig(bolt.client_auth, ClientAuth.NONE);
        }
        if ("true".equals(System.getenv("NEO4J_READ_ONLY"))) {
            builder.setConfig(GraphDatabaseSettings.read_only_databases, java.util.Set.of("neo4j"));
        }
        DatabaseManagementService dbms = builder
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
            .setConfig(BoltConnector.encryption_level,
                tls != null ? BoltConnector.EncryptionLevel.REQUIRED : BoltConnector.EncryptionLevel.DISABLED)
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

        System.out.println("READY");
        System.out.flush();
        stopped.await();
    }

    /**
     * What `neo4j-admin dbms set-initial-password` does, and the official image before its first
     * start: Bolt never answers with the default password, not even for a moment.
     */
    private static void setInitialPassword(Path home, String password) throws Exception {
        Config config = Config.newBuilder().set(GraphDatabaseSettings.neo4j_home, home.toAbsolutePath()).build();
        Path file = CommunitySecurityModule.getInitialUserRepositoryFile(config);
        Files.createDirectories(file.getParent());
        var repository = new FileUserRepository(new DefaultFileSystemAbstraction(), file,
            NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
        repository.start();
        repository.create(new User("neo4j", null,
            SystemGraphCredential.createCredentialForPassword(UTF8.encode(password), new SecureHasher()), false, false));
        repository.shutdown();
    }
}
