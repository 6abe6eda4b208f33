package peers;

import org.flywaydb.core.Flyway;

/** `flyway migrate` as its command line runs it: FlywayMigrate JDBC_URL USER PASSWORD FOLDER */
public final class FlywayMigrate {
    public static void main(String[] args) {
        Flyway.configure()
            .dataSource(args[0], args[1], args[2])
            .locations("filesystem:" + args[3])
            .load()
            .migrate();
    }
}
