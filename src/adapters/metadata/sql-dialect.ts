// What differs between the SQL dialects the metadata stores run on, in one place: the stores and
// the migrations share every query and ask here only where SQLite and PostgreSQL must differ.
import {
  DataTypeNode,
  OperationNodeTransformer,
  sql,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type Sql,
  type UnknownRow,
} from 'kysely';

export type SqlDialect = 'sqlite' | 'postgres';

type Executor = Parameters<ReturnType<Sql['raw']>['execute']>[0];

/**
 * Serialises the transactions that check, then write, under one name (a tenant's key count, a
 * key's grants) until the transaction ends. SQLite needs nothing: every write transaction there
 * begins IMMEDIATE, holding the database's one write lock. PostgreSQL's READ COMMITTED lets two
 * such transactions both pass a count before either inserts; a transaction-level advisory lock on
 * the name makes the second wait for the first's commit, then count again.
 */
export async function serializeOn(trx: Executor, dialect: SqlDialect, name: string): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`.execute(trx);
}

class ColumnTypeRenamer extends OperationNodeTransformer {
  constructor(private readonly types: Record<string, string>) {
    super();
  }

  protected override transformDataType(node: DataTypeNode): DataTypeNode {
    const renamed = this.types[node.dataType];
    return renamed === undefined ? node : DataTypeNode.create(renamed as DataTypeNode['dataType']);
  }
}

/**
 * The column types the migrations write as SQLite knows them, in the dialect's words: PostgreSQL
 * has no `blob`, its binary type is `bytea`. The migrations run through this plugin, so they stay
 * one list for both dialects.
 */
export function columnTypesOf(dialect: SqlDialect): KyselyPlugin {
  const renamer = new ColumnTypeRenamer(dialect === 'postgres' ? { blob: 'bytea' } : {});
  return {
    transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => renamer.transformNode(args.node),
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
  };
}
