package peers;

import ac.simons.neo4j.migrations.core.Migrations;
import ac.simons.neo4j.migrations.core.MigrationsConfig;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.GraphDatabase;

/** `neo4j-migrations apply` as its command line runs it: Neo4jMigrationsApply URI USER PASSWORD FOLDER.
 *  Per statement: its default, one transaction per file, refuses files mixing schema and data. */
public final class Neo4jMigrationsApply {
    public static void main(String[] args) {
        var config = MigrationsConfig.builder()
            .withLocationsToScan("file://" + args[3])
            .withTransactionMode(MigrationsConfig.TransactionMode.PER_STATEMENT)
            .build();
        try (var driver = GraphDatabase.driver(args[0], AuthTokens.basic(args[1], args[2]))) {
            new Migrations(config, driver).apply();
        }
    }
}
