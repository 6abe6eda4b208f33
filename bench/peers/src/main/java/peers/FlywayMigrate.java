package peers;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension;

/** `flyway migrate` as its command line runs it: FlywayMigrate JDBC_URL USER PASSWORD FOLDER. With
 *  FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK=false, as its command line reads it, a file of CREATE INDEX
 *  CONCURRENTLY can finish: Flyway's own lock otherwise holds a transaction that it waits for. */
public final class FlywayMigrate {
    public static void main(String[] args) {
        FluentConfiguration configuration = Flyway.configure()
            .dataSource(args[0], args[1], args[2])
            .locations("filesystem:" + args[3]);
        if ("false".equals(System.getenv("FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK"))) {
            configuration.getPluginRegister().getPlugin(PostgreSQLConfigurationExtension.class)
                .setTransactionalLock(false);
        }
        configuration.load().migrate();
    }
}
