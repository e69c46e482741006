"""What a user would pick instead: a minimal Scrapy spider with parsel text extraction.

    python bench/scrapy_spider.py SEEDS [--concurrency 64]

No robots.txt, no throttling, no link following. Prints one JSON line like bare_loop.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    import scrapy
    from scrapy.crawler import CrawlerProcess

    with open(args.seeds) as f:
        urls = [line.strip() for line in f if line.strip()]
    counts = {"pages": 0, "errors": 0, "chars": 0}

    class AdSpider(scrapy.Spider):  # type: ignore[misc]
        name = "ads"

        async def start(self) -> AsyncIterator[Any]:  # Scrapy >= 2.13
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, errback=self.failed,
                                     dont_filter=True)

        def start_requests(self) -> Iterator[Any]:  # older Scrapy
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, errback=self.failed,
                                     dont_filter=True)

        def parse(self, response: Any) -> None:
            text = "\n".join(response.xpath("//body//text()").getall())
            counts["pages"] += 1
            counts["chars"] += len(text)

        def failed(self, failure: Any) -> None:
            counts["errors"] += 1

    process = CrawlerProcess(settings={
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "RETRY_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    })
    t0 = time.monotonic()
    process.crawl(AdSpider)
    process.start()
    json.dump({**counts, "elapsed_s": time.monotonic() - t0}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
