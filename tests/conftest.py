import pytest

from tests.servers.mariadb import (  # noqa: F401
    mysql_database,
    mysql_server,
    mysql_url,
    stoppable_mysql,
)
from tests.servers.redis import (  # noqa: F401
    isolated_redis_server,
    redis_clean,
    redis_cluster_url,
    redis_server,
    redis_url,
)


@pytest.fixture(params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Empty for the embedded SQLite default, else a fresh MariaDB database's URL."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("mysql_database")
    return url
