-- Issue 15: the orders pack reads every change of the shop's tables: the
-- status history and the core.orders_*_full() recomputations start from
-- the first change. Its change logs keep all of them (sluice.change_retention).
insert into sluice.change_retention (change_log, keep, pack, reason) values
  ('staging.shop_orders', null, 'orders', 'core.orders_status_history and core.orders_*_full() read every change of an order'),
  ('staging.shop_order_lines', null, 'orders', 'core.orders_line_full() and the reports'' *_full() read every change of a line'),
  ('staging.shop_products', null, 'orders', 'core.orders_product reads the products'' changes'),
  ('staging.shop_customers', null, 'orders', 'kept with the rest of the shop''s change logs')
on conflict (change_log) do nothing;
