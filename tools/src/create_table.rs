//! `create-table`: creates the payments table (TABLE_NAME) on the configured endpoint; used by
//! `make run` against moto. An existing table is left alone.

#[tokio::main]
async fn main() -> Result<(), String> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "set TABLE_NAME".to_owned())?;
    let aws = shared::bootstrap::aws_config().await;
    let client = shared::adapters::dynamodb::table::client(&aws);
    shared::adapters::dynamodb::table::create_table(&client, &table, shared::adapters::dynamodb::table::Stream::On)
        .await?;
    println!("table {table} ready");
    Ok(())
}
