//! Embedded schema migrations, shared by the SQL backends: each backend lists its own core
//! files; every compiled-in plugin's SQL for that backend follows them.

use crate::plugins::PluginMigration;

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// The core migrations, then every compiled-in plugin's (enabled or not, so enabling a plugin
/// later never finds its tables or columns missing), `sql_of` picking the backend's SQL.
pub fn with_plugins(core: &[Migration], sql_of: fn(&PluginMigration) -> &'static str) -> Vec<Migration> {
    let plugins = crate::plugins::ALL_PLUGINS.iter().flat_map(|p| p.migrations);
    core.iter()
        .copied()
        .chain(plugins.map(|m| Migration {
            name: m.name,
            sql: sql_of(m),
        }))
        .collect()
}
