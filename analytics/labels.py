"""English and Simplified Chinese names of every figure a report shows.

One table, so the HTML, CSV and XLSX reports (and anyone else) name a metric
the same way in both languages.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    # summary
    "title": ("Show", "直播"),
    "started_at": ("Started", "开始时间"),
    "ended_at": ("Ended", "结束时间"),
    "duration_s": ("Duration (s)", "时长（秒）"),
    "unique_viewers": ("Unique viewers", "观看人数"),
    "viewers_webrtc": ("… watching over WebRTC (/watch)", "其中 WebRTC 观看（/watch）"),
    "viewers_hls": ("… watching over HLS", "其中 HLS 观看"),
    "sessions": ("Viewer sessions", "观看次数"),
    "peak_concurrent": ("Peak concurrent viewers", "最高同时在线"),
    "peak_at": ("Peak at", "峰值时间"),
    "avg_watch_s": ("Average watch time (s)", "平均观看时长（秒）"),
    "median_watch_s": ("Median watch time (s)", "观看时长中位数（秒）"),
    "engaged_viewers": ("Engaged viewers (≥ 30 s)", "有效观看人数（≥30秒）"),
    "scans": ("QR scans", "扫码次数"),
    "clicks": ("Buy clicks", "点击购买次数"),
    "orders": ("Orders", "订单数"),
    "units": ("Units sold", "售出件数"),
    "gmv": ("GMV", "成交金额"),
    "buyers": ("Buyers", "购买人数"),
    "revenue_per_viewer": ("Revenue per viewer", "人均贡献"),
    "gpm": ("GPM (GMV per 1,000 viewers)", "千次观看成交额（GPM）"),
    "conversion": ("Conversion (buyers ÷ viewers)", "转化率（购买人数÷观看人数）"),
    "reconnects": ("Phone reconnects", "手机断线重连次数"),
    "held_s": ("On hold (s)", "保持画面时长（秒）"),
    # products
    "sku": ("SKU", "商品编码"),
    "name": ("Product", "商品"),
    "name_zh": ("Product (Chinese)", "商品中文名"),
    "on_air_s": ("On air (s)", "讲解时长（秒）"),
    "viewers_present": ("Viewers while on air", "讲解期间观看人数"),
    "revenue": ("Revenue", "销售额"),
    "revenue_per_on_air_min": ("Revenue per on-air minute", "每分钟讲解销售额"),
    # funnel
    "stage": ("Stage", "阶段"),
    "viewers": ("People", "人数"),
    "share_of_previous": ("Of previous stage", "占上一阶段"),
    "share_of_viewers": ("Of viewers", "占观看人数"),
    "stage.viewers": ("Watched", "观看"),
    "stage.engaged": ("Watched ≥ 30 s", "观看≥30秒"),
    "stage.scanned_or_clicked": ("Scanned or clicked", "扫码或点击"),
    "stage.ordered": ("Ordered", "下单"),
    # retention, orders, timeline
    "seconds": ("Seconds watched", "观看秒数"),
    "minute": ("Minutes watched", "观看分钟"),
    "share": ("Share still watching", "仍在观看比例"),
    "time": ("Time", "时间"),
    "at": ("Time", "时间"),
    "quantity": ("Quantity", "数量"),
    "unit_price": ("Unit price", "单价"),
    "total": ("Total", "金额"),
    "source": ("Source", "来源"),
    "status": ("Status", "状态"),
    "buyer_id": ("Buyer", "买家"),
    "link_code": ("Link code", "推广码"),
    "external_id": ("Platform order id", "平台订单号"),
    "attributed_by": ("Attributed by", "归因方式"),
    "id": ("Order id", "订单编号"),
    "show_id": ("Show id", "直播编号"),
    # sections
    "section.summary": ("Summary", "概览"),
    "section.products": ("Products", "商品"),
    "section.funnel": ("Funnel", "转化漏斗"),
    "section.retention": ("Retention", "留存"),
    "section.timeline": ("Timeline", "时间线"),
    "section.orders": ("Orders", "订单"),
    "section.concurrency": ("Concurrent viewers", "同时在线"),
    "report": ("Show report", "直播报告"),
    "live": ("still live", "直播中"),
    "metric": ("Metric", "指标"),
    "label": ("Name", "名称"),
    "value": ("Value", "数值"),
    "times_in": ("Times in", "时间时区"),
    "bitrate": ("Uplink bitrate (kbit/s)", "上行码率（kbit/s）"),
    "disconnect": ("Phone disconnected", "手机断线"),
    # the automatic hold slate (the phone's uplink was unusable): viewers saw "back in a moment"
    "on_hold": ("on hold", "保持画面"),
    "section.holds": ("On hold (the automatic hold slate)", "保持画面（自动）"),
    "after_show": ("orders after the show", "直播结束后下单"),
    # live and replay (docs/replay.md)
    "channel": ("Channel", "渠道"),
    "channel.live": ("Live", "直播"),
    "channel.replay": ("Replay", "回放"),
    "chapter": ("Chapter", "章节"),
    "start_s": ("Starts at (s)", "开始（秒）"),
    "end_s": ("Ends at (s)", "结束（秒）"),
    "replay_viewers": ("Replay viewers", "回放观看人数"),
    "replay_s": ("Replay watch time (s)", "回放观看时长（秒）"),
    "section.channels": ("Live and replay", "直播与回放"),
    "section.replayed": ("Most-replayed chapters", "回放最多的章节"),
    # reach: which platform was live when
    "section.platforms": ("Platforms live (simulcast)", "各平台推流时段"),
    "section.platform_sales": ("Sales by platform (own QR codes)", "各平台销售（独立二维码）"),
    "destination": ("Platform", "平台"),
    "start": ("From", "开始"),
    "end": ("Until", "结束"),
    "live_s": ("Live (s)", "直播时长（秒）"),
    "ended_by": ("Ended by", "结束原因"),
    # the live room (issue #11): channels, coupons, comments, draws; trust (issue #12)
    "simulated": ("simulated", "模拟"),
    "simulated_note": (
        "Simulated show: demo data, never counted in a real show's figures or in totals across shows",
        "模拟直播：演示数据，不计入真实直播和多场汇总",
    ),
    "comments": ("Comments", "评论数"),
    "comments_per_min": ("Comments per minute", "每分钟评论"),
    "wants": ("Wants (扣1, 想要)", "想要人数"),
    "draw": ("Lucky draw", "福袋"),
    "draws": ("Lucky draws", "福袋次数"),
    "drop_off": ("Viewers left", "观众流失"),
    "nothing_on_air": ("nothing on air", "未讲解商品"),
    "coupon_orders": ("Orders with a coupon", "用券订单"),
    "discount_given": ("Discounts given", "优惠金额"),
    "discount": ("Discount given", "优惠金额"),
    "coupon": ("Coupon", "优惠券"),
    "people": ("People who took the step", "人数"),
    "share_of_revenue": ("Share of revenue", "销售额占比"),
    "lost": ("Viewers lost in a minute", "一分钟内流失"),
    "before": ("Viewers before", "流失前"),
    "after": ("Viewers after", "流失后"),
    "prize": ("Prize", "奖品"),
    "entrants": ("Entrants", "参与人数"),
    "product": ("Product", "商品"),
    "on_air_min": ("On air (min)", "讲解（分钟）"),
    "via.scan": ("QR scan", "扫码"),
    "via.click": ("Buy button", "购买按钮"),
    "via.shelf": ("Shelf (小黄车)", "小黄车"),
    "via.draw": ("Lucky draw", "福袋"),
    "via.replay": ("Replay", "回放"),
    "via.unknown": ("Platform import / unknown", "平台导入 / 未知"),
    "section.by_channel": ("Orders by channel", "各渠道订单"),
    "section.channel_funnel": ("Funnel by channel", "分渠道转化"),
    "section.coupons": ("Coupons and discounts", "优惠券与优惠"),
    "section.drops": ("Drop-offs and what was on air", "观众流失时段与讲解商品"),
    "section.draws": ("Lucky draws", "福袋"),
}


def label(key: str, sep: str = " / ") -> str:
    """``"Orders / 订单数"``; unknown keys come back unchanged."""
    english, chinese = LABELS.get(key, (key, ""))
    return f"{english}{sep}{chinese}" if chinese else english


def bilingual_columns(columns: list[str]) -> dict[str, str]:
    """A ``DataFrame.rename`` mapping to bilingual headings."""
    return {column: label(column) for column in columns}
